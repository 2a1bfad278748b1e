// Package e2e holds the end-to-end tests of the PipelineRun pod affinity
// engine. They run against a live cluster (hack/cluster.sh up) and are only
// compiled with the build tag "e2e":
//
//	go test -tags=e2e -v -timeout 60m ./test/e2e/...
//
// See README.md in this directory.
package e2e

# pipelinerun-affinity: every pod of a Tekton PipelineRun on one node.
# See README.md. All targets run scripts in hack/.

.PHONY: all demo test unit lint patches verify-patches tekton verify-lts verify-lts-prefixes e2e-lts e2e e2e-tekton e2e-kueue e2e-real soak bench cluster-up cluster-down build

all: test

## demo: build what is missing, start the local cluster, show the prototype's scenarios, tear down
demo:
	bash hack/demo.sh

## test: every check (lint, unit, patch series, patched Tekton's tests, end-to-end; the older lines'
## apply, build, vet, touched packages' tests and smoke run; PRA_CI_LTS=0 leaves those out)
test:
	bash hack/test.sh

lint:
	bash hack/test.sh lint
unit:
	bash hack/test.sh unit
verify-patches:
	bash hack/test.sh patches
tekton:
	bash hack/test.sh tekton

## verify-lts: the older lines' series (v1.12.2, v1.9.2): the tekton check (apply, build, vet, the
## touched areas' tests: make test runs it with the touched packages only), then every prefix of
## each series (hack/verify-prefixes.sh, not in make test)
verify-lts:
	bash hack/test.sh lts lts-prefixes
verify-lts-prefixes:
	bash hack/test.sh lts-prefixes

## e2e-lts: (make test runs it for both lines) a smoke run of the e2e suite on an LTS line's patched Tekton, e.g.
## make e2e-lts LINE=v1.12: cluster up with that line, five tests, tear down
e2e-lts:
	$(if $(LINE),,$(error LINE=v1.12 or LINE=v1.9 is needed))
	PRA_TEKTON_LINE=$(LINE) bash hack/test.sh e2e-lts
e2e:
	bash hack/test.sh e2e

## e2e-tekton: the Tekton-style e2e tests the series adds to Tekton's test/ (TestPodAffinity*),
## compiled in the patched tree and run on the local cluster, as a maintainer runs them on kind
e2e-tekton:
	bash hack/test.sh tekton-e2e

## e2e-kueue: (not in make test) a cluster with Kueue (hack/cluster.sh up --kueue), the Kueue admission tests, tear down
e2e-kueue:
	bash hack/test.sh e2e-kueue

## e2e-real: (root, cgroup v1) the local cluster with two real nodes (containerd + kubelet), the
## real-node subset of test/e2e (tags e2e realnode), tear down
e2e-real:
	bash hack/test.sh real

## soak: (not in CI) start a 20-node cluster, run 300 PipelineRuns under random faults, print the report, tear down
soak:
	bash hack/soak.sh

## bench: (not in CI) start a cluster of N nodes (default 50), run the same burst of R PipelineRuns
## (default 2N) under upstream and the patched controller, print one table of costs, tear down
bench:
	bash hack/bench.sh $(if $(N),$(N),50) $(R)

## patches: regenerate patches/ from pkg/ (and the hook patches)
patches:
	bash hack/update-patches.sh

## build: the local cluster's binaries and the patched Tekton controller
build:
	bash hack/build-binaries.sh
	bash hack/build-tekton.sh patched

## cluster-up / cluster-down: a local cluster with the patched controller, left running
cluster-up:
	bash hack/cluster.sh up --tekton patched
cluster-down:
	bash hack/cluster.sh down

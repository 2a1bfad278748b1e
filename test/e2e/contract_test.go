//go:build e2e

package e2e

// The names the tests share with the engine's contract (pkg/podaffinity)
// and Tekton: the feature flags, labels, condition reasons and events.

import (
	"context"
)

// Names from the engine's contract (pkg/podaffinity) and Tekton.
const (
	tektonNamespace       = "tekton-pipelines"
	featureFlagsConfigMap = "feature-flags"

	flagEnable      = "enable-pipelinerun-pod-affinity"
	flagCoschedule  = "coschedule"
	flagScope       = "pipelinerun-pod-affinity-isolation-scope"
	flagReservation = "pipelinerun-pod-affinity-reservation"
	flagMaxNodeWait = "pipelinerun-pod-affinity-max-node-wait"
	flagKueueQueue  = "pipelinerun-pod-affinity-kueue-queue-name"
	flagAPIFields   = "enable-api-fields"

	labelComponent      = "app.kubernetes.io/component"
	labelInstance       = "app.kubernetes.io/instance"
	componentHolder     = "pipelinerun-placeholder"
	componentAssistant  = "affinity-assistant" // upstream's Affinity Assistant
	labelPipelineRun    = "tekton.dev/pipelineRun"
	labelTaskRun        = "tekton.dev/taskRun"
	labelPipelineTask   = "tekton.dev/pipelineTask"
	labelMember         = "tekton.dev/pod-affinity-placeholder"
	labelOptIn          = "tekton.dev/pipelinerun-pod-affinity"
	labelLegacyOptIn    = "tekton.dev/custom-pod-affinity"
	annotationDuration  = "pipelinerun-affinity.dev/kwok-duration"
	reasonWaiting       = "WaitingForNode"
	reasonNodeWait      = "NodeWaitTimeout"
	eventRecreated      = "PlaceholderRecreated"
	eventPlaced         = "Placed"
	eventHandedOver     = "ReservationHandedOver"
	eventRestored       = "ReservationRestored"
	eventWaitingForNode = "WaitingForNode"
	eventWaitingToMove  = "WaitingToMove"
	reasonWaitingToMove = "WaitingToMove"
	eventMoving         = "Moving"
	eventInvalidLabel   = "InvalidPodAffinityLabel"
	placeholderSelector = labelComponent + "=" + componentHolder

	// suiteLabel marks the namespaces of this suite ("key" only, for selectors).
	suiteLabel = "e2e.pipelinerun-affinity.dev/suite"
	// cordonedByLabel marks a node the suite cordoned (so a rerun uncordons it).
	cordonedByLabel = "e2e.pipelinerun-affinity.dev/cordoned"
)

func bg() context.Context { return context.Background() }

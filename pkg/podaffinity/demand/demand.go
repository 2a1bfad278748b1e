/*
Copyright 2026 The Tekton Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package demand computes the peak resource demand of a PipelineRun: the
// most that the pods of tasks allowed to run at the same time request
// together. The placeholder reserves it, so that the node it lands on can run
// the whole pipeline. The peak is exact for every shape of DAG: it is the
// heaviest antichain of the DAG, found with a maximum flow (Dilworth's
// theorem) in polynomial time.
package demand

import (
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Task is one node of the pipeline's DAG as far as demand is concerned.
type Task struct {
	// Name is the pipeline task name.
	Name string
	// After lists the tasks that must finish before this one starts (runAfter
	// and result references, as in Tekton's DAG).
	After []string
	// Pod is what one pod of the task requests.
	Pod corev1.ResourceList
	// Count is how many pods of the task run at once (matrix fan-out); 0 means 1.
	Count int
	// Finally marks a finally task: finally tasks run after all others, as
	// their own phase, and may all run at once.
	Finally bool
	// State is where the task is in the run.
	State TaskState
}

// TaskState is where a task is in its run.
type TaskState int

const (
	// Waiting: the task has not started and does not start now.
	Waiting TaskState = iota
	// Starting: the reconciler creates the task's runs now.
	Starting
	// Running: the task's runs exist and have not finished.
	Running
)

// ToPlace returns what a placeholder reserves while it looks for a node:
// the peak demand of the tasks that have not started.
func ToPlace(tasks []Task) corev1.ResourceList {
	var notStarted []Task
	for _, t := range tasks {
		if t.State != Running {
			notStarted = append(notStarted, t)
		}
	}
	return Peak(notStarted)
}

// Held returns what the placeholder keeps on the run's node for the tasks
// that have not started while running and starting tasks hold their own
// share: per resource, the peak demand of the unfinished tasks less what the
// running and starting tasks request, and never less than zero. Running and
// starting tasks run at the same time, so they form one of the sets Peak
// considers, and what they request is never more than the peak.
//
// As tasks start, Held falls (the reservation is handed over to their
// pods); as tasks finish, it rises again to what later tasks still need.
func Held(tasks []Task) corev1.ResourceList {
	peak := Peak(tasks)
	inUse := InUse(tasks)
	held := corev1.ResourceList{}
	for name, q := range peak {
		left := scaled(name, q) - scaled(name, inUse[name])
		if left > 0 {
			held[name] = fromScaled(name, left)
		}
	}
	return held
}

// AnyStarting reports whether the reconciler creates runs for some task now.
func AnyStarting(tasks []Task) bool {
	for _, t := range tasks {
		if t.State == Starting {
			return true
		}
	}
	return false
}

// InUse returns what the running and starting tasks request together.
func InUse(tasks []Task) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range resourceNames(tasks) {
		total := int64(0)
		for _, t := range tasks {
			if t.State != Waiting {
				total += weight(t, name)
			}
		}
		if total > 0 {
			out[name] = fromScaled(name, total)
		}
	}
	return out
}

// AllStarted reports whether every unfinished task has its runs already.
func AllStarted(tasks []Task) bool {
	for _, t := range tasks {
		if t.State != Running {
			return false
		}
	}
	return true
}

// Peak returns, for every resource, the most that tasks which may run at the
// same time request together: the heaviest antichain of the DAG (tasks of
// which none must wait for another), computed per resource, and the finally
// phase as a separate candidate. The result is exact for every DAG shape
// (see order.heaviest).
func Peak(tasks []Task) corev1.ResourceList {
	var dagTasks, finallyTasks []Task
	for _, t := range tasks {
		if t.Finally {
			finallyTasks = append(finallyTasks, t)
		} else {
			dagTasks = append(dagTasks, t)
		}
	}
	next := dependents(dagTasks)
	o := newOrder(next)
	w := make([]int64, len(next)) // the nodes after the tasks weigh nothing
	peak := corev1.ResourceList{}
	for _, name := range resourceNames(tasks) {
		for i, t := range dagTasks {
			w[i] = weight(t, name)
		}
		dag := o.heaviest(w)
		fin := int64(0)
		for _, t := range finallyTasks {
			fin += weight(t, name)
		}
		best := max(dag, fin)
		if best > 0 {
			peak[name] = fromScaled(name, best)
		}
	}
	return peak
}

// dependents returns, for each task, the tasks that wait for it directly:
// next[i] lists j when tasks[j].After names tasks[i]. Dependencies on tasks
// that are not listed (they have started already) are ignored.
//
// Tasks that wait for the same list of two or more tasks (a fan-in, such as
// every task of a stage running after every task of the stage before) wait
// for them through one weightless node, listed after the tasks: k tasks
// waiting for the same m tasks then cost the maximum flow k+m edges rather
// than k·m. The node orders no two tasks that were not ordered already and
// weighs nothing, so every antichain weighs what it did. next has one entry
// per task and then one per such node.
func dependents(tasks []Task) [][]int {
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.Name] = i
	}
	// Each distinct After list is resolved once, and counted.
	type waitList struct {
		tasks []int // the listed tasks that are in tasks
		users int   // how many tasks wait for exactly this list
		node  int   // the weightless node they wait through, or -1
	}
	lists := map[string]*waitList{}
	keys := make([]string, len(tasks))
	for j, t := range tasks {
		keys[j] = strings.Join(t.After, "\x00")
		l, ok := lists[keys[j]]
		if !ok {
			l = &waitList{node: -1}
			for _, name := range t.After {
				if i, ok := index[name]; ok {
					l.tasks = append(l.tasks, i)
				}
			}
			lists[keys[j]] = l
		}
		l.users++
	}
	next := make([][]int, len(tasks))
	for j := range tasks {
		l := lists[keys[j]]
		if l.users < 2 || len(l.tasks) < 2 {
			for _, i := range l.tasks {
				next[i] = append(next[i], j)
			}
			continue
		}
		if l.node < 0 {
			l.node = len(next)
			next = append(next, nil)
			for _, i := range l.tasks {
				next[i] = append(next[i], l.node)
			}
		}
		next[l.node] = append(next[l.node], j)
	}
	return next
}

func weight(t Task, name corev1.ResourceName) int64 {
	q, ok := t.Pod[name]
	if !ok {
		return 0
	}
	count := int64(t.Count)
	if count < 1 {
		count = 1
	}
	return scaled(name, q) * count
}

// scaled expresses CPU in millicores and everything else in units, so that
// sums stay exact integers.
func scaled(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

func fromScaled(name corev1.ResourceName, v int64) resource.Quantity {
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	return *resource.NewQuantity(v, resource.BinarySI)
}

func resourceNames(tasks []Task) []corev1.ResourceName {
	set := map[corev1.ResourceName]bool{}
	for _, t := range tasks {
		for name := range t.Pod {
			set[name] = true
		}
	}
	names := make([]corev1.ResourceName, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// PodRequests returns what the pod of a Task requests, as Tekton builds it:
// every step and sidecar container runs in the pod at once, so their
// requests add up; a step inherits each request and limit of the stepTemplate
// that it does not set itself; the run's taskRunSpecs override steps and
// sidecars by name, resource by resource; a task-level computeResources
// replaces the steps' total.
func PodRequests(spec *v1.TaskSpec, runSpec v1.PipelineTaskRunSpec) corev1.ResourceList {
	return PodRequestsInNamespace(spec, runSpec, nil)
}

// PodRequestsInNamespace is PodRequests for a pod created in a namespace
// with limitRanges: as Tekton's pod builder does, each step container that
// requests no CPU, memory or ephemeral storage gets the LimitRanges' default
// request for it divided by the number of steps, and at least their minimum.
// Sidecars and Tekton's init containers (which request nothing) get the
// whole default request from the API server's LimitRanger, and a pod
// requests, per resource, the larger of its containers' sum and its largest
// init container.
func PodRequestsInNamespace(spec *v1.TaskSpec, runSpec v1.PipelineTaskRunSpec, limitRanges []*corev1.LimitRange) corev1.ResourceList {
	total := containerRequests(spec, runSpec, limitRanges)
	if spec == nil {
		return total
	}
	// Tekton's "prepare" init container always exists and requests nothing.
	return WithFloor(total, containerDefaults(limitRanges))
}

func containerRequests(spec *v1.TaskSpec, runSpec v1.PipelineTaskRunSpec, limitRanges []*corev1.LimitRange) corev1.ResourceList {
	total := corev1.ResourceList{}
	if spec == nil {
		return total
	}
	stepOverrides := map[string]corev1.ResourceRequirements{}
	for _, o := range runSpec.StepSpecs {
		stepOverrides[o.Name] = o.ComputeResources
	}
	sidecarOverrides := map[string]corev1.ResourceRequirements{}
	for _, o := range runSpec.SidecarSpecs {
		sidecarOverrides[o.Name] = o.ComputeResources
	}

	if runSpec.ComputeResources != nil {
		add(total, requestsOf(*runSpec.ComputeResources))
	} else {
		defaults := stepDefaults(limitRanges, len(spec.Steps))
		for _, s := range spec.Steps {
			r := s.ComputeResources
			if spec.StepTemplate != nil {
				r = overlay(spec.StepTemplate.ComputeResources, r)
			}
			if o, ok := stepOverrides[s.Name]; ok {
				r = overlay(r, o)
			}
			add(total, requestsOf(withDefaults(r, defaults)))
		}
	}
	sidecarDefaults := containerDefaults(limitRanges)
	for _, s := range spec.Sidecars {
		r := s.ComputeResources
		if o, ok := sidecarOverrides[s.Name]; ok {
			r = overlay(r, o)
		}
		// The API server defaults a request from its limit before the
		// LimitRanger fills what is still missing.
		add(total, requestsOf(withDefaults(corev1.ResourceRequirements{Requests: requestsOf(r)}, sidecarDefaults)))
	}
	return total
}

// containerDefaults returns the request the API server's LimitRanger gives a
// container that requests nothing: the Container items' defaultRequest; of
// several, the largest counts.
func containerDefaults(limitRanges []*corev1.LimitRange) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, item := range containerItems(limitRanges) {
		for name, q := range item.DefaultRequest {
			if cur, ok := out[name]; (!ok || q.Cmp(cur) > 0) && !q.IsZero() {
				out[name] = q.DeepCopy()
			}
		}
	}
	return out
}

// containerItems returns the per-container items of limitRanges.
func containerItems(limitRanges []*corev1.LimitRange) []corev1.LimitRangeItem {
	var items []corev1.LimitRangeItem
	for _, lr := range limitRanges {
		if lr == nil {
			continue
		}
		for _, item := range lr.Spec.Limits {
			if item.Type == corev1.LimitTypeContainer {
				items = append(items, item)
			}
		}
	}
	return items
}

// limitRangeResources are the resources Tekton defaults from LimitRanges.
var limitRangeResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}

// stepDefaults returns what a step container that requests nothing gets
// from the namespace's LimitRanges: for each Container item, its
// defaultRequest divided by the number of steps, and at least its min. Of
// several items or LimitRanges the largest value counts.
func stepDefaults(limitRanges []*corev1.LimitRange, steps int) corev1.ResourceList {
	if steps < 1 {
		steps = 1
	}
	out := corev1.ResourceList{}
	for _, item := range containerItems(limitRanges) {
		for _, name := range limitRangeResources {
			var candidate resource.Quantity
			if q, ok := item.DefaultRequest[name]; ok {
				if name == corev1.ResourceCPU {
					candidate = *resource.NewMilliQuantity(q.MilliValue()/int64(steps), resource.DecimalSI)
				} else {
					candidate = *resource.NewQuantity(q.Value()/int64(steps), resource.BinarySI)
				}
			}
			if q, ok := item.Min[name]; ok && q.Cmp(candidate) > 0 {
				candidate = q.DeepCopy()
			}
			if cur, ok := out[name]; (!ok || candidate.Cmp(cur) > 0) && !candidate.IsZero() {
				out[name] = candidate
			}
		}
	}
	return out
}

// withDefaults fills the requests r does not make explicitly from defaults.
func withDefaults(r corev1.ResourceRequirements, defaults corev1.ResourceList) corev1.ResourceRequirements {
	if len(defaults) == 0 {
		return r
	}
	out := corev1.ResourceRequirements{Requests: overlayList(nil, r.Requests), Limits: r.Limits}
	for name, q := range defaults {
		if cur, ok := out.Requests[name]; !ok || cur.IsZero() {
			out.Requests[name] = q.DeepCopy()
		}
	}
	return out
}

// overlay returns base with every request and limit that over sets replaced
// by over's: the strategic merge Tekton applies for the stepTemplate
// (v1.MergeStepsWithStepTemplate) and for stepSpecs and sidecarSpecs
// (v1.MergeStepsWithSpecs, v1.MergeSidecarsWithSpecs).
func overlay(base, over corev1.ResourceRequirements) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: overlayList(base.Requests, over.Requests),
		Limits:   overlayList(base.Limits, over.Limits),
	}
}

func overlayList(base, over corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range base {
		out[name] = q.DeepCopy()
	}
	for name, q := range over {
		out[name] = q.DeepCopy()
	}
	return out
}

// requestsOf returns the effective requests: a resource with a limit and no
// request requests its limit, as the API server defaults it.
func requestsOf(r corev1.ResourceRequirements) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range r.Limits {
		out[name] = q.DeepCopy()
	}
	for name, q := range r.Requests {
		out[name] = q.DeepCopy()
	}
	return out
}

func add(total, more corev1.ResourceList) {
	for name, q := range more {
		sum := total[name]
		sum.Add(q)
		total[name] = sum
	}
}

// WithFloor returns requests with every resource of floor that requests
// lacks or asks less of raised to floor's amount.
func WithFloor(requests, floor corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range requests {
		out[name] = q.DeepCopy()
	}
	for name, q := range floor {
		if cur, ok := out[name]; !ok || cur.Cmp(q) < 0 {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

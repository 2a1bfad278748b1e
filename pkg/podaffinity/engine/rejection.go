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

package engine

import (
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// rejectionKind says whether retrying a rejected create can succeed.
type rejectionKind int

const (
	// rejectedForNow: a quota, a webhook that timed out, a conflict; it may
	// pass later.
	rejectedForNow rejectionKind = iota
	// rejectedForGood: invalid, or forbidden by a policy (LimitRange, Pod
	// Security, an admission webhook or policy) that no retry satisfies.
	rejectedForGood
)

// rejection classifies an API error from creating a placeholder object.
func rejection(err error) rejectionKind {
	switch {
	case err == nil:
		return rejectedForNow
	case apierrors.IsInvalid(err):
		return rejectedForGood
	case apierrors.IsForbidden(err) && !quotaExceeded(err):
		return rejectedForGood
	}
	return rejectedForNow
}

// quotaExceeded reports whether err is a ResourceQuota's rejection, which
// passes once other pods of the namespace finish. The quota admission
// plugin gives it no cause of its own: only its message tells it apart.
func quotaExceeded(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota")
}

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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// LimitRangesIn lists the LimitRanges of namespace; none without a lister.
func (e *Engine) LimitRangesIn(namespace string) ([]*corev1.LimitRange, error) {
	if e.LimitRanges == nil {
		return nil, nil
	}
	list, err := e.LimitRanges.LimitRanges(namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing the LimitRanges of namespace %s: %w", namespace, err)
	}
	return list, nil
}

package scheduler

import "k8s.io/apimachinery/pkg/api/resource"

func newQuantity(v int64) *resource.Quantity { return resource.NewQuantity(v, resource.BinarySI) }
func newQuantityMilli(v int64) *resource.Quantity {
	return resource.NewMilliQuantity(v, resource.DecimalSI)
}

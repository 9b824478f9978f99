// Package serviceaccount makes sure every active namespace has the
// "default" ServiceAccount, as kube-controller-manager's serviceaccount
// controller does, recreating it if it is deleted.
package serviceaccount

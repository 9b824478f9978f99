// Package controllers assembles skiff's control loops (the scheduler and
// the controllers of kube-controller-manager) into one controller-runtime
// manager that `skiff server` runs against its own API. Each control loop
// lives in its own package; this one only wires them.
package controllers

// Package sim is the simulated container runtime of the node agent: pods
// get IPs from their node's podCIDR and their containers "run" without
// processes. Init containers complete at once; a pod annotated
// sim.skiff.dev/exit-after (a duration) has its containers exit after that
// long with the code in sim.skiff.dev/exit-code (default 0), so Jobs and
// restart policies can be exercised. It lets the control plane be tested,
// and benchmarked at thousands of pods, on one machine.
package sim

// Package containerd is the node agent's link to containerd. Supervisor
// runs a containerd of skiff's own as a child process, as k3s does: its
// configuration, content store, state and socket live under the data
// directory, so it neither needs nor disturbs a containerd the machine may
// already run; it is restarted when it dies and stopped with skiff. The
// containers' shims outlive it, so a restart of skiff (or of containerd)
// does not stop the pods.
package containerd

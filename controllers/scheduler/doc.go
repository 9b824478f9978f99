// Package scheduler is skiff's default-scheduler: it binds each pending
// pod whose schedulerName is default-scheduler to a node through
// pods/binding, filtering and scoring nodes as kube-scheduler's default
// plugins do (node name, unschedulable, taints and tolerations, node
// selector and required affinity, resources, pod count, host ports,
// inter-pod affinity and anti-affinity, topology spread; scores for
// least-allocated and balanced resources, preferred node and pod
// affinity, ScheduleAnyway spread and PreferNoSchedule taints).
//
// Pods that fit nowhere get PodScheduled=False/Unschedulable with
// kube-scheduler's kind of message and a FailedScheduling event, and are
// retried when nodes or pods change. Priority and preemption are not
// implemented: pods are taken in arrival order.
package scheduler

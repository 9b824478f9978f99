// Package v1 holds skiff's behaviour for batch/v1: scheme installation,
// defaults, validation, selector generation and kubectl table columns of
// Jobs and CronJobs, following upstream Kubernetes' rules.
package v1

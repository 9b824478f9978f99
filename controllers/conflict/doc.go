// Package conflict makes reconcilers treat optimistic-concurrency
// conflicts as what they are: the cache was behind the stored object, so
// the sync is simply retried shortly, without counting as a failure. As
// an error, a conflict would grow the work queue's exponential back-off
// (up to minutes for an object that is written often, such as a CronJob's
// status) and be logged as a reconciler error.
package conflict

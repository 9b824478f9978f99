// Package cronjob is the CronJob controller: it creates a Job from a
// CronJob's template at each scheduled time (standard cron syntax and
// descriptors, in spec.timeZone or the local zone), honours
// concurrencyPolicy Allow/Forbid/Replace, startingDeadlineSeconds and
// suspend, tracks active Jobs (also those made by `kubectl create job
// --from=cronjob/NAME`), records lastScheduleTime and lastSuccessfulTime,
// and deletes finished Jobs beyond the history limits. Its clock is
// injected, so tests step through minutes without waiting.
package cronjob

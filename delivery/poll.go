package delivery

import "time"

// defaultPollInterval is River's own default: a look a second costs the
// database little, and work announced as it is queued does not wait for it.
const defaultPollInterval = time.Second

// pollInterval resolves PollInterval. River refuses an interval shorter than
// the fetch cooldown, which bounds how often a worker fetches anyway.
func (w *Worker) pollInterval() time.Duration {
	if w.PollInterval <= 0 {
		return defaultPollInterval
	}
	return max(w.PollInterval, fetchCooldown)
}

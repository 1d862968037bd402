package delivery

import "time"

// defaultPollInterval is a tenth of River's own default. A look costs the
// database little (an index probe), and a delivery held back for its
// destination's share of the slots, or queued without being announced
// (on SQLite, where River has no notifications), is found again within
// it rather than within a second.
const defaultPollInterval = 100 * time.Millisecond

// pollInterval resolves PollInterval. River refuses an interval shorter than
// the fetch cooldown, which bounds how often a worker fetches anyway.
func (w *Worker) pollInterval() time.Duration {
	if w.PollInterval <= 0 {
		return defaultPollInterval
	}
	return max(w.PollInterval, fetchCooldown)
}

package webhooktest

import (
	"bytes"
	"time"

	webhook "github.com/liquidhook/webhook"
)

// RetryPolicy is the retry policy of the Senders this package makes:
// Customer.io's rule (408, 409, 429, 5xx, timeouts and connection errors)
// and its 10 retries, each after a millisecond, so that a test of retries
// takes milliseconds instead of hours. A Retry-After counts for at most
// 5 ms; the attempt still records what was asked (Attempt.RetryAfter).
var RetryPolicy webhook.RetryPolicy = webhook.Exponential{
	FirstWait:     time.Millisecond,
	Multiplier:    1,
	Jitter:        -1,
	MaxRetryAfter: 5 * time.Millisecond,
}

// Sender returns a new Sender for this server: it signs with the server's
// key under its Scheme, may reach loopback (AllowPrivate), and retries with
// RetryPolicy. Its other fields have their defaults (a 4 s timeout, a
// 10 KiB response cap); each call returns a new Sender, which the test may
// change before sending. Close closes its idle connections
// (Sender.CloseIdleConnections), so that none outlives the test.
func (s *Server) Sender() *webhook.Sender {
	scheme := s.Scheme
	if s.srv != nil {
		scheme = s.scheme // as the server checks, whatever changed since
	}
	sender := &webhook.Sender{
		Key:          bytes.Clone(s.key),
		AllowPrivate: true,
		RetryPolicy:  RetryPolicy,
	}
	if scheme == webhook.SchemeStandard {
		sender.Signer = webhook.StandardSigner{Keys: [][]byte{bytes.Clone(s.key)}}
	}
	s.mu.Lock()
	s.senders = append(s.senders, sender)
	s.mu.Unlock()
	return sender
}

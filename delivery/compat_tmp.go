package delivery

// Temporary until the Sender lands on main.

import (
	"time"

	"github.com/liquidhook/webhook"
)

var defaultRetryPolicyTmp webhook.RetryPolicy = webhook.RetryFunc(func(a webhook.Attempt) (time.Duration, bool) {
	return 10500 * time.Millisecond << (a.Number - 1), a.Number <= 10
})
var noRetryTmp webhook.RetryPolicy = webhook.RetryFunc(func(webhook.Attempt) (time.Duration, bool) { return 0, false })

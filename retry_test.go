package webhook_test

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/liquidhook/webhook"
)

func TestRetryFunc(t *testing.T) {
	var got webhook.Attempt
	var p webhook.RetryPolicy = webhook.RetryFunc(func(a webhook.Attempt) (time.Duration, bool) {
		got = a
		return time.Duration(a.Number) * time.Second, a.Number < 3
	})
	wait, retry := p.Next(webhook.Attempt{Number: 2, Status: 503, Class: webhook.ClassStatus})
	assert.True(t, retry)
	assert.Equal(t, 2*time.Second, wait)
	assert.Equal(t, 503, got.Status)
	_, retry = p.Next(webhook.Attempt{Number: 3})
	assert.False(t, retry)
}

func TestNoRetry(t *testing.T) {
	for _, a := range []webhook.Attempt{
		{Number: 1, Status: 503, Class: webhook.ClassStatus},
		{Number: 1, Class: webhook.ClassTimeout},
	} {
		wait, retry := webhook.NoRetry.Next(a)
		assert.False(t, retry)
		assert.Zero(t, wait)
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    webhook.Attempt
		want bool
	}{
		{"delivered", webhook.Attempt{Status: 200}, false},
		{"timeout", webhook.Attempt{Class: webhook.ClassTimeout}, true},
		{"connection", webhook.Attempt{Class: webhook.ClassConnection}, true},
		{"too large", webhook.Attempt{Status: 200, Class: webhook.ClassTooLarge}, false},
		{"redirect", webhook.Attempt{Status: 302, Class: webhook.ClassRedirect}, false},
		{"blocked", webhook.Attempt{Class: webhook.ClassBlocked}, false},
		{"mapping", webhook.Attempt{Status: 200, Class: webhook.ClassMapping}, false},
		{"canceled", webhook.Attempt{Class: webhook.ClassCanceled}, false},
		{"invalid", webhook.Attempt{Class: webhook.ClassInvalid}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, webhook.Retryable(tc.a))
		})
	}
	// Every status from 100 to 599: Customer.io retries 408, 409, 429 and 5xx.
	for code := 100; code <= 599; code++ {
		want := code == 408 || code == 409 || code == 429 || code >= 500
		got := webhook.Retryable(webhook.Attempt{Status: code, Class: webhook.ClassStatus})
		assert.Equal(t, want, got, "status %d", code)
	}
}

func failed(n int) webhook.Attempt {
	return webhook.Attempt{Number: n, Status: 503, Class: webhook.ClassStatus}
}

// TestDefaultScheduleFollowsCustomerIO checks the default: 10 retries, the first
// after about 10.5 s, doubling, about 3 hours in all.
func TestDefaultScheduleFollowsCustomerIO(t *testing.T) {
	p := webhook.Exponential{Jitter: -1}
	var total time.Duration
	for n := 1; n <= 10; n++ {
		wait, retry := p.Next(failed(n))
		require.True(t, retry, "retry %d", n)
		assert.Equal(t, time.Duration(10.5*float64(time.Second)*math.Pow(2, float64(n-1))), wait, "retry %d", n)
		total += wait
	}
	_, retry := p.Next(failed(11))
	assert.False(t, retry, "no 11th retry")
	assert.InDelta(t, 3.0, total.Hours(), 0.1, "about 3 hours in all")

	// DefaultRetryPolicy is the same schedule, jittered by 10%.
	for n := 1; n <= 10; n++ {
		scheduled := p.Scheduled(n)
		for range 50 {
			wait, retry := webhook.DefaultRetryPolicy.Next(failed(n))
			require.True(t, retry)
			assert.GreaterOrEqual(t, wait, time.Duration(float64(scheduled)*0.9))
			assert.LessOrEqual(t, wait, time.Duration(float64(scheduled)*1.1))
		}
	}
	_, retry = webhook.DefaultRetryPolicy.Next(failed(11))
	assert.False(t, retry)
}

func TestExponentialJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[webhook.Exponential{}.Scheduled(1)] = true
	}
	assert.Greater(t, len(seen), 50, "jittered waits differ")
}

func TestExponentialFields(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         webhook.Exponential
		a         webhook.Attempt
		wantWait  time.Duration
		wantRetry bool
	}{
		{"delivered", webhook.Exponential{}, webhook.Attempt{Number: 1, Status: 200}, 0, false},
		{"final status", webhook.Exponential{}, webhook.Attempt{Number: 1, Status: 404, Class: webhook.ClassStatus}, 0, false},
		{"canceled", webhook.Exponential{}, webhook.Attempt{Number: 1, Class: webhook.ClassCanceled}, 0, false},
		{"negative retries", webhook.Exponential{Retries: -1}, failed(1), 0, false},
		{"last of three", webhook.Exponential{Retries: 3, FirstWait: time.Second, Jitter: -1}, failed(3), 4 * time.Second, true},
		{"past three", webhook.Exponential{Retries: 3, FirstWait: time.Second, Jitter: -1}, failed(4), 0, false},
		{"number zero", webhook.Exponential{}, failed(0), 0, false},
		{"multiplier 3", webhook.Exponential{FirstWait: time.Second, Multiplier: 3, Jitter: -1}, failed(3), 9 * time.Second, true},
		{"multiplier below 1 is constant", webhook.Exponential{FirstWait: time.Second, Multiplier: 0.5, Jitter: -1}, failed(5), time.Second, true},
		{"max wait", webhook.Exponential{FirstWait: time.Second, MaxWait: 5 * time.Second, Jitter: -1}, failed(10), 5 * time.Second, true},
		{"no overflow", webhook.Exponential{Retries: 5000, Jitter: -1}, failed(4000), webhook.DefaultMaxWait, true},
		{"custom retryable", webhook.Exponential{FirstWait: time.Second, Jitter: -1, Retryable: func(a webhook.Attempt) bool { return a.Status == 404 }},
			webhook.Attempt{Number: 1, Status: 404, Class: webhook.ClassStatus}, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, retry := tc.p.Next(tc.a)
			assert.Equal(t, tc.wantRetry, retry)
			assert.Equal(t, tc.wantWait, wait)
		})
	}
}

// TestRetryAfterRule: Retry-After lengthens a wait up to the cap and never
// shortens it.
func TestRetryAfterRule(t *testing.T) {
	p := webhook.Exponential{FirstWait: 10 * time.Second, Jitter: -1}
	for _, tc := range []struct {
		name       string
		p          webhook.Exponential
		retryAfter time.Duration
		want       time.Duration
	}{
		{"none", p, 0, 10 * time.Second},
		{"shorter never shortens", p, 2 * time.Second, 10 * time.Second},
		{"longer is honoured", p, 90 * time.Second, 90 * time.Second},
		{"at the cap", p, time.Hour, time.Hour},
		{"beyond the cap", p, 30 * 24 * time.Hour, time.Hour},
		{"saturated", p, time.Duration(math.MaxInt64), time.Hour},
		{"negative", p, -time.Minute, 10 * time.Second},
		{"custom cap", webhook.Exponential{FirstWait: 10 * time.Second, Jitter: -1, MaxRetryAfter: time.Minute}, time.Hour, time.Minute},
		{"ignored", webhook.Exponential{FirstWait: 10 * time.Second, Jitter: -1, MaxRetryAfter: -1}, time.Hour, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := webhook.Attempt{Number: 1, Status: 429, Class: webhook.ClassStatus, RetryAfter: tc.retryAfter}
			wait, retry := tc.p.Next(a)
			require.True(t, retry)
			assert.Equal(t, tc.want, wait)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"seconds", "120", 2 * time.Minute, true},
		{"padded", " 7 ", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"empty", "", 0, false},
		{"negative", "-5", 0, false},
		{"plus sign", "+5", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "tomorrow", 0, false},
		{"huge", "999999999", 999999999 * time.Second, true},
		{"past a Duration", "9300000000", time.Duration(math.MaxInt64), true},
		{"overflow", "999999999999999999999999", time.Duration(math.MaxInt64), true},
		{"IMF-fixdate", "Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second, true},
		{"RFC 850", "Saturday, 01-Mar-25 12:01:00 GMT", time.Minute, true},
		{"ANSI C", "Sat Mar  1 13:00:00 2025", time.Hour, true},
		{"past date", "Sat, 01 Mar 2025 11:00:00 GMT", 0, true},
		{"bad date", "Sat, 32 Mar 2025 11:00:00 GMT", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := webhook.ParseRetryAfter(tc.value, now)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "120", "-1", "1e3", "99999999999999999999", now.Format(http.TimeFormat), "Sat Mar  1 13:00:00 2025", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := webhook.ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: want 0", v, d)
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<32 && v == strconv.FormatInt(n, 10) {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v", v, d, ok)
			}
		}
		// Whatever the header says, the default policy waits at most the
		// scheduled maximum or the Retry-After cap.
		wait, _ := webhook.Exponential{Jitter: -1}.Next(webhook.Attempt{Number: 1, Status: 429, Class: webhook.ClassStatus, RetryAfter: d})
		if wait > webhook.DefaultMaxRetryAfter {
			t.Fatalf("wait %v over the cap", wait)
		}
	})
}

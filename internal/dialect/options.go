package dialect

import "time"

// Defaults for Options' zero fields.
const (
	DefaultTimeout       = time.Second
	DefaultMaxOutput     = 1 << 20
	DefaultMaxIterations = 100_000
)

// Options bound and shape the renders of templates. The zero value is
// ready to use: strict, with the default limits and the system clock.
type Options struct {
	// Lax prints a missing variable as empty instead of failing the
	// render.
	Lax bool

	// Timeout bounds one Run: every template it renders shares the
	// deadline. Defaults to DefaultTimeout.
	Timeout time.Duration

	// MaxOutput bounds the bytes of one template's output and of every
	// string a render builds (a capture, a filter's result). Defaults to
	// DefaultMaxOutput.
	MaxOutput int

	// MaxIterations bounds the loop iterations of one Run, and the
	// elements of every array a render builds. Defaults to
	// DefaultMaxIterations.
	MaxIterations int

	// Now is the clock behind 'now' and 'today'. Defaults to time.Now.
	Now func() time.Time
}

func (o *Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o *Options) maxOutput() int {
	if o.MaxOutput <= 0 {
		return DefaultMaxOutput
	}
	return o.MaxOutput
}

func (o *Options) maxIterations() int {
	if o.MaxIterations <= 0 {
		return DefaultMaxIterations
	}
	return o.MaxIterations
}

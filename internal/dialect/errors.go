package dialect

import (
	"errors"
	"fmt"
	"strconv"
)

// The errors a template fails with, at Compile or while rendering. Each
// reaches the caller inside an *Error that gives the line; test for them
// with errors.Is. Their messages are the webhook package's, which
// re-exports these values.
var (
	// ErrTemplateSyntax: a template does not parse.
	ErrTemplateSyntax = errors.New("webhook: template syntax error")
	// ErrMissingVariable: a template printed a variable or attribute that
	// is not in the data, or used one as a range bound. The message names
	// it as written, customer[key] for a key read from a variable.
	ErrMissingVariable = errors.New("webhook: missing variable")
	// ErrLimitExceeded: a render ran out of time, output, iterations or
	// value size (see Options).
	ErrLimitExceeded = errors.New("webhook: template limit exceeded")
	// ErrTemplate: any other failure while rendering, such as a filter
	// given a value it cannot use.
	ErrTemplate = errors.New("webhook: template error")
)

// Error is a template's failure at a line. Err wraps one of the
// sentinels above.
type Error struct {
	// Line is the 1-based line of the markup that failed, or 0 when the
	// failure concerns the template as a whole (its size).
	Line int
	// Err is the cause.
	Err error
}

// Error gives the line and the cause, as "line 3: webhook: missing
// variable customer.email".
func (e *Error) Error() string {
	if e.Line > 0 {
		return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// syntaxError is a compile failure at line.
func syntaxError(line int, format string, args ...any) error {
	return &Error{Line: line, Err: fmt.Errorf("%w: %s", ErrTemplateSyntax, fmt.Sprintf(format, args...))}
}

// renderError marks a failure of something that rendered: a filter, a
// tag. The line is added where the node is known.
func renderError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTemplate, fmt.Sprintf(format, args...))
}

// missing is the error of an undefined value that was printed.
func missing(name string) error {
	return fmt.Errorf("%w %s", ErrMissingVariable, name)
}

// atLine wraps err with line unless it already carries one.
func atLine(line int, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if !errors.Is(err, ErrMissingVariable) && !errors.Is(err, ErrLimitExceeded) && !errors.Is(err, ErrTemplate) && !errors.Is(err, ErrTemplateSyntax) {
		err = fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	return &Error{Line: line, Err: err}
}

// errorf makes a plain error; the parser turns it into a syntax error
// with the line.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/liquidhook/webhook"
	"github.com/liquidhook/webhook/delivery"
)

// queue add: one delivery for a data file, or one per line of a JSON
// Lines file, queued in batches.

// Batches of queue add --data people.jsonl: at most addBatchLines lines,
// and at most addBatchBytes of data, per transaction.
const (
	addBatchLines = 1000
	addBatchBytes = maxFileSize
)

func queueCheckAdd(c *queueCall) error {
	f := c.f
	if f.action == "" {
		return badInput("--action is required: the webhook action file")
	}
	if f.data == "" {
		return badInput("--data is required: the data file (a JSON object, or one a line)")
	}
	var err error
	if c.action, err = loadAction(f.action, &webhook.Compiler{Lax: f.lax}); err != nil {
		return err
	}
	if c.lines = isLinesName(f.data); c.lines {
		// Read while queueing, a batch at a time; only its opening is
		// checked now.
		file, err := os.Open(f.data)
		if err != nil {
			return fileError(f.data, err)
		}
		return file.Close()
	}
	b, err := readFile(f.data)
	if err != nil {
		return err
	}
	if c.data, err = webhook.ParseData(b); err != nil {
		if looksLikeLines(b) {
			c.lines = true
			return nil
		}
		return fileError(f.data, err)
	}
	return nil
}

// isLinesName reports whether path names a JSON Lines file.
func isLinesName(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".jsonl" || ext == ".ndjson"
}

// looksLikeLines reports whether b, which is not one JSON object, is
// several lines each holding one: its first line is a JSON object and
// another line follows.
func looksLikeLines(b []byte) bool {
	first, rest, ok := bytes.Cut(bytes.TrimLeft(b, " \t\r\n"), []byte("\n"))
	first = bytes.TrimSpace(first)
	return ok && len(first) > 0 && first[0] == '{' && isJSON(first) && len(bytes.TrimSpace(rest)) > 0
}

func isJSON(b []byte) bool {
	_, err := webhook.ParseData(b)
	return err == nil
}

func queueAdd(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	f := c.f
	opts := &delivery.EnqueueOptions{Draft: f.draft}
	if c.lines {
		return queueAddLines(ctx, e, q, c.action, opts, f.action, f.data)
	}
	d, err := q.Enqueue(ctx, c.action, c.data, opts)
	if err != nil {
		return addError(f.action, err)
	}
	fmt.Fprintln(e.stdout, d.ID)
	return nil
}

// addError describes an error of Enqueue: one the action made (a template
// or body error) names the action file.
func addError(actionPath string, err error) error {
	var te *webhook.TemplateError
	var be *webhook.BodyError
	if errors.As(err, &te) || errors.As(err, &be) || errors.Is(err, webhook.ErrInvalidURL) ||
		errors.Is(err, webhook.ErrInvalidHeader) || errors.Is(err, webhook.ErrInvalidMethod) {
		return fileError(actionPath, err)
	}
	return badInput("%v", err)
}

// queueAddLines queues one delivery per line of the JSON Lines file at
// path, a batch per transaction, and prints the ids of each batch once it
// is queued. A bad line stops it: the line is named, nothing of its batch
// is queued, and the batches before it stay queued.
func queueAddLines(ctx context.Context, e *env, q *delivery.Queue, action *webhook.Action, opts *delivery.EnqueueOptions, actionPath, path string) error {
	file, err := os.Open(path)
	if err != nil {
		return fileError(path, err)
	}
	defer file.Close()
	lr := &lineReader{r: bufio.NewReader(file), limit: maxFileSize}
	for {
		var (
			batch []map[string]any
			lines []int
			size  int
		)
		for len(batch) < addBatchLines && size < addBatchBytes {
			line, n, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return lineError(path, n, err)
			}
			data, err := webhook.ParseData(line)
			if err != nil {
				return lineError(path, n, err)
			}
			batch, lines = append(batch, data), append(lines, n)
			size += len(line)
		}
		if len(batch) == 0 {
			return nil
		}
		ds, err := q.EnqueueBatch(ctx, action, batch, opts)
		if be, ok := errors.AsType[*delivery.BatchError](err); ok {
			// A template error names its field and line in the action.
			return lineError(path, lines[be.Index], fmt.Errorf("%s: %s", filepath.Base(actionPath),
				strings.TrimPrefix(be.Err.Error(), "webhook: ")))
		}
		if err != nil {
			return addError(actionPath, err)
		}
		var b strings.Builder
		for _, d := range ds {
			b.WriteString(strconv.FormatInt(d.ID, 10))
			b.WriteByte('\n')
		}
		if _, err := io.WriteString(e.stdout, b.String()); err != nil {
			return err
		}
	}
}

// lineError names line n of the file at path and says why it is bad.
func lineError(path string, n int, err error) error {
	msg := strings.TrimPrefix(err.Error(), "webhook: ")
	var pe *webhook.ParseError
	if errors.As(err, &pe) && pe.Field == "" {
		// The position within the line.
		msg = strings.TrimPrefix(pe.Err.Error(), "webhook: ")
		if pe.Column > 0 {
			msg = "column " + strconv.Itoa(pe.Column) + ": " + msg
		}
	}
	return badInput("%s: line %d: %s", path, n, oneLine(msg))
}

// lineReader reads a JSON Lines file a line at a time, each at most limit
// bytes, skipping blank lines.
type lineReader struct {
	r     *bufio.Reader
	limit int
	n     int // the number of the last line read
}

// errLineTooLong is returned for a line over the limit.
var errLineTooLong = errors.New("too long")

// next returns the next line that is not blank, without its end, and its
// number; io.EOF after the last.
func (lr *lineReader) next() ([]byte, int, error) {
	for {
		line, err := lr.readLine()
		if err != nil {
			return nil, lr.n, err
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t, lr.n, nil
		}
	}
}

func (lr *lineReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(line)+len(chunk) > lr.limit+1 {
			lr.n++
			return nil, fmt.Errorf("%w: longer than %d MiB", errLineTooLong, lr.limit>>20)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			lr.n++
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			lr.n++
			return line, nil
		default:
			return nil, err
		}
	}
}

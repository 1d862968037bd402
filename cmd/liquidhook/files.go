package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/liquidhook/webhook"
)

// maxFileSize caps what the CLI reads from an action, data or body file.
const maxFileSize = 8 << 20

// errTooLarge is returned by readLimited for input over its limit.
var errTooLarge = errors.New("too large")

// readLimited reads r whole, or fails with errTooLarge past limit bytes:
// every input the CLI reads (files, standard input) is bounded.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// readFileLimited reads the file at path with readLimited.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

// readFile reads an action or data file whole, refusing more than
// maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	b, err := readFileLimited(path, maxFileSize)
	if errors.Is(err, errTooLarge) {
		err = fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	if err != nil {
		return nil, fileError(path, err)
	}
	return b, nil
}

// loadSpec reads and strictly parses an action file.
func loadSpec(path string) (webhook.Spec, error) {
	b, err := readFile(path)
	if err != nil {
		return webhook.Spec{}, err
	}
	spec, err := webhook.ParseSpec(b)
	if err != nil {
		return webhook.Spec{}, fileError(path, err)
	}
	return spec, nil
}

// loadAction reads an action file and compiles it with c, or with the
// defaults when c is nil.
func loadAction(path string, c *webhook.Compiler) (*webhook.Action, error) {
	spec, err := loadSpec(path)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = &webhook.Compiler{}
	}
	a, err := c.Compile(spec)
	if err != nil {
		return nil, fileError(path, err)
	}
	return a, nil
}

// loadData reads a data file: a JSON object whose top-level keys become
// template variables. An empty path gives no data.
func loadData(path string) (map[string]any, error) {
	if path == "" {
		return map[string]any{}, nil
	}
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	data, err := webhook.ParseData(b)
	if err != nil {
		return nil, fileError(path, err)
	}
	return data, nil
}

// renderFiles renders the action file for the data file, in lax mode when
// lax is set: the request that render prints and send sends, and the
// mapper of its response.
func renderFiles(actionPath, dataPath string, lax bool) (*webhook.Request, webhook.ResponseMapper, error) {
	action, err := loadAction(actionPath, &webhook.Compiler{Lax: lax})
	if err != nil {
		return nil, nil, err
	}
	data, err := loadData(dataPath)
	if err != nil {
		return nil, nil, err
	}
	req, err := action.Render(data)
	if err != nil {
		return nil, nil, fileError(actionPath, err)
	}
	return req, action.Mapper(data), nil
}

// fileError describes err in one line that starts with the file and
// then, where known, the field and the line: "action.json: body: line 5:
// ...". It is bad input (exit status 2): whatever is wrong with a file is
// found before anything is sent.
func fileError(path string, err error) error {
	var (
		pe   *webhook.ParseError
		te   *webhook.TemplateError
		perr *fs.PathError
		msg  string
	)
	switch {
	case errors.As(err, &pe):
		var b strings.Builder
		if pe.Field != "" {
			b.WriteString(pe.Field + ": ")
		}
		if pe.Line > 0 {
			b.WriteString("line " + strconv.Itoa(pe.Line) + ", column " + strconv.Itoa(pe.Column) + ": ")
		}
		b.WriteString(pe.Err.Error())
		msg = b.String()
	case errors.As(err, &te):
		msg = strings.TrimPrefix(te.Error(), "webhook: ")
	case errors.As(err, &perr):
		msg = "cannot read: " + perr.Err.Error()
	default:
		msg = strings.TrimPrefix(err.Error(), "webhook: ")
	}
	return badInput("%s: %s", path, oneLine(msg))
}

// oneLine keeps a message on one line, whatever a template put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", " ")), " ")
}

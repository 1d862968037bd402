package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/liquidhook/webhook"
)

// A delivery's spec and data are stored as JSON. Data is decoded the way
// the CLI decodes a data file, so a value renders the same whether it came
// from Enqueue, from a file, or back from the database.

func encodeSpec(s webhook.Spec) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("delivery: encode spec: %w", err)
	}
	return string(b), nil
}

func decodeSpec(s string) (webhook.Spec, error) {
	var spec webhook.Spec
	if err := json.Unmarshal([]byte(s), &spec); err != nil {
		return webhook.Spec{}, fmt.Errorf("delivery: stored spec: %w", err)
	}
	return spec, nil
}

// encodeData returns data as stored and as it will be rendered: the
// round trip turns structs, times and typed maps into what JSON holds, so
// the render checked at enqueue is the render the worker sends.
func encodeData(data map[string]any) (string, map[string]any, error) {
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", nil, fmt.Errorf("delivery: data is not JSON: %w", err)
	}
	decoded, err := decodeData(b)
	if err != nil {
		return "", nil, err
	}
	return string(b), decoded, nil
}

// decodeData decodes a JSON object with numbers as int64 when they are
// integers that fit, and float64 otherwise: the Liquid engine does
// arithmetic on those and prints them exactly.
func decodeData(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("delivery: data: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("delivery: data: trailing text after the object")
	}
	if m == nil {
		return nil, errors.New("delivery: data: want a JSON object")
	}
	for k, v := range m {
		m[k] = convertNumbers(v)
	}
	return m, nil
}

func convertNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e)
		}
	}
	return v
}

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

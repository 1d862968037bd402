package delivery

import (
	"encoding/json"
	"fmt"

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

// decodeData decodes stored data as the CLI decodes a data file
// (webhook.ParseData): numbers print exactly and still compute.
func decodeData(b []byte) (map[string]any, error) {
	m, err := webhook.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("delivery: data: %w", err)
	}
	return m, nil
}

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

package main

// Stand-ins for the shared action and data loaders, until they land.

import (
	"encoding/json"
	"os"

	webhook "github.com/liquidhook/webhook"
)

func sendLoadAction(path string) (*webhook.Action, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput("--action: %v", err)
	}
	var spec webhook.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, badInput("%s: %v", path, err)
	}
	a, err := webhook.Compile(spec)
	if err != nil {
		return nil, badInput("%s: %v", path, err)
	}
	return a, nil
}

func sendLoadData(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput("--data: %v", err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, badInput("%s: %v", path, err)
	}
	return data, nil
}

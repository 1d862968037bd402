// Command trello runs the Trello example from Customer.io's documentation:
// it renders action.json for the sample data in data.json, prints the
// request with credentials redacted, and sends it, signed, to a local
// stand-in for Trello's API that verifies the signature. Nothing leaves the
// machine.
//
//	go run ./examples/trello
package main

import (
	_ "embed"

	"github.com/liquidhook/webhook/examples/internal/demo"
)

var (
	//go:embed action.json
	action []byte
	//go:embed data.json
	data []byte
)

func main() { demo.Main("trello", action, data) }

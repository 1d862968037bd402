// Command close runs the Close example from Customer.io's documentation: it
// renders action.json for the sample data in data.json, prints the request
// with credentials redacted, and sends it, signed, to a local stand-in for
// Close's API that verifies the signature. Nothing leaves the machine.
//
//	go run ./examples/close
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

func main() { demo.Main("close", action, data) }

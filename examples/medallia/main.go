// Command medallia runs the Medallia (formerly Promoter.io) example from
// Customer.io's documentation, which sends a customer an NPS survey after
// their third purchase: it renders action.json for the sample data in
// data.json, prints the request with credentials redacted, and sends it,
// signed, to a local stand-in for Promoter's survey API that verifies the
// signature. Nothing leaves the machine.
//
//	go run ./examples/medallia
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

func main() { demo.Main("medallia", action, data) }

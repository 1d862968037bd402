package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/liquidhook/webhook/delivery"
)

// queue destinations and queue resume: the destinations' circuits as the
// delivery log holds them, and the end of a pause.

func queueDestinations(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	ds, err := q.Destinations(ctx)
	if err != nil {
		return err
	}
	if c.f.json {
		if ds == nil {
			ds = []delivery.Destination{}
		}
		return writeJSON(e.stdout, ds)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tSTATE\tSUCCESS\tLATENCY\tATTEMPTS\tWAITING\tNOTE")
	for _, d := range ds {
		success, latency := "-", "-"
		if d.Attempts > 0 {
			success = strconv.FormatFloat(100*d.SuccessRate, 'f', 0, 64) + "%"
			latency = d.Latency.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", d.Destination, d.State, success, latency, d.Attempts,
			d.Waiting, destinationNote(d))
	}
	return tw.Flush()
}

// destinationNote says why a destination is not healthy.
func destinationNote(d delivery.Destination) string {
	var parts []string
	switch d.State {
	case delivery.DestinationPaused:
		parts = append(parts, "probe at "+d.PausedUntil.UTC().Format(time.RFC3339))
	case delivery.DestinationSlowed:
		parts = append(parts, strconv.Itoa(d.Slots)+" slots")
	case delivery.DestinationDisabled:
		parts = append(parts, "its deliveries fail until resumed")
	}
	if d.Failures > 0 {
		parts = append(parts, fmt.Sprintf("%d failures in a row (%s)", d.Failures, failureText(d.LastClass, d.LastStatus)))
	}
	return strings.Join(parts, "; ")
}

// failureText describes a failure by its class, or its status.
func failureText(class string, status int) string {
	if status != 0 {
		return strconv.Itoa(status)
	}
	return class
}

func queueResume(ctx context.Context, e *env, q *delivery.Queue, c *queueCall) error {
	d, err := q.Resume(ctx, c.dest)
	if errors.Is(err, delivery.ErrUnknownDestination) {
		return badInput("%s", strings.TrimPrefix(err.Error(), "delivery: "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s\n", d.Destination, d.State)
	return nil
}

// destinationProgress prints a line when a destination's state changes as
// the worker sees it.
func destinationProgress(w io.Writer) func(d delivery.Destination) {
	var mu sync.Mutex // called from many goroutines
	return func(d delivery.Destination) {
		var line string
		switch d.State {
		case delivery.DestinationPaused:
			line = fmt.Sprintf("destination %s paused until %s after %d failures in a row (%s)", d.Destination,
				d.PausedUntil.UTC().Format(time.RFC3339), d.Failures, failureText(d.LastClass, d.LastStatus))
		case delivery.DestinationSlowed:
			line = fmt.Sprintf("destination %s slowed to %d slots after failures", d.Destination, d.Slots)
		case delivery.DestinationDisabled:
			line = fmt.Sprintf("destination %s disabled: its deliveries fail until resumed", d.Destination)
		default:
			line = fmt.Sprintf("destination %s healthy", d.Destination)
		}
		mu.Lock()
		fmt.Fprintln(w, line)
		mu.Unlock()
	}
}

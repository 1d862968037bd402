package main

import (
	"context"
	"errors"
)

func runRender(ctx context.Context, e *env, args []string) error {
	return badInput("%w", errors.New("not implemented yet"))
}

package main

import (
	"context"
	"log/slog"
	"time"

	"linkapi/internal/store"
)

// pruneEvery is how often serve prunes the change feed of what is older than
// linkapi.ChangeRetention; it also prunes once when it starts.
const pruneEvery = time.Hour

// pruneChanges prunes the change feed until ctx ends. Every instance prunes;
// two pruning at once delete the same rows, which is harmless.
func (p *Program) pruneChanges(ctx context.Context, logger *slog.Logger, st *store.Store) {
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	for {
		n, err := st.PruneChanges(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			logger.Error("pruning the change feed", "err", err)
		} else if n > 0 {
			logger.Info("pruned the change feed", "deleted", n)
		}
		if p.Pruned != nil {
			p.Pruned(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

package redis

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// AccountsChannel is the pub/sub channel on which instances announce changes to
// accounts: each message is the id of an account whose cached copy must go.
const AccountsChannel = Prefix + "accounts"

// receiveTimeout is how long the subscriber waits for a message before it pings,
// so that a connection that died without a word is noticed within a few seconds.
const receiveTimeout = 2 * time.Second

// publishTimeout bounds the publication of a change.
const publishTimeout = 2 * time.Second

// Invalidations carries changes to accounts between instances through Redis
// pub/sub; it implements store.AccountEvents. While its subscription is not
// live (Redis down, or not yet subscribed again after an outage) Listening is
// false, and the store then reuses no cached account; on every new subscription
// the local cache is flushed first, since messages may have been missed.
type Invalidations struct {
	c          *Client
	subscribed atomic.Bool
	// Heard, when set, is told of each message received, for tests.
	Heard func(id int64)
}

// NewInvalidations returns the Invalidations of c; Run receives.
func NewInvalidations(c *Client) *Invalidations { return &Invalidations{c: c} }

// Changed publishes that account id changed. A failure takes the Client down;
// the other instances then hear of it when their own cache entry expires.
func (i *Invalidations) Changed(ctx context.Context, id int64) {
	if !i.c.Up() {
		return
	}
	// A lost message leaves the account cached elsewhere until its entry
	// expires, so the publication may take longer than other commands.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := i.c.redis().Publish(octx, AccountsChannel, strconv.FormatInt(id, 10)).Err(); err != nil {
		i.c.fail(err)
	}
}

// Listening reports whether the subscription is live.
func (i *Invalidations) Listening() bool { return i.c.Up() && i.subscribed.Load() }

// Run receives until ctx ends: for each message it calls forget with the
// account's id; each time it has subscribed (at start, and after every outage)
// it calls flush before it reports Listening.
func (i *Invalidations) Run(ctx context.Context, forget func(id int64), flush func()) {
	i.c.OnUp(flush)
	for ctx.Err() == nil {
		if !i.c.Up() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(probeEvery / 5):
			}
			continue
		}
		i.subscribe(ctx, forget, flush)
	}
}

// subscribe holds one subscription until it fails or ctx ends.
func (i *Invalidations) subscribe(ctx context.Context, forget func(id int64), flush func()) {
	ps := i.c.redis().Subscribe(ctx)
	defer ps.Close()
	defer i.subscribed.Store(false)
	sctx, cancel := op(ctx)
	err := ps.Subscribe(sctx, AccountsChannel)
	if err == nil {
		// Wait for the confirmation: only then are messages being delivered.
		_, err = ps.ReceiveTimeout(sctx, opTimeout)
	}
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			i.c.fail(err)
		}
		return
	}
	flush()
	i.subscribed.Store(true)
	for {
		msg, err := ps.ReceiveTimeout(ctx, receiveTimeout)
		if ctx.Err() != nil {
			return
		}
		var nerr net.Error
		switch {
		case errors.As(err, &nerr) && nerr.Timeout():
			pctx, cancel := op(ctx)
			err = ps.Ping(pctx)
			cancel()
			if err != nil {
				i.c.fail(err)
				return
			}
			continue
		case err != nil:
			i.c.fail(err)
			return
		}
		if !i.c.Up() {
			return // an outage seen by another command; subscribe afresh
		}
		m, ok := msg.(*goredis.Message)
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(m.Payload, 10, 64)
		if err != nil {
			continue
		}
		forget(id)
		if i.Heard != nil {
			i.Heard(id)
		}
	}
}

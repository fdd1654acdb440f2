package graph

import (
	"context"

	"linkapi/graph/model"
)

// findWebhookDeliveries runs the webhookDeliveries query: a page of a webhook's
// delivery log, newest first.
func (r *Resolver) findWebhookDeliveries(ctx context.Context, id string, first *int, after *string) (*model.WebhookDeliveryConnection, error) {
	hookID, err := parseID(id)
	if err != nil {
		return nil, err
	}
	p, err := page(first, after)
	if err != nil {
		return nil, err
	}
	list, err := r.WebhookService.FindWebhookDeliveries(ctx, hookID, p)
	if err != nil {
		return nil, err
	}
	conn := &model.WebhookDeliveryConnection{
		Nodes:    list.Deliveries,
		Edges:    make([]*model.WebhookDeliveryEdge, len(list.Deliveries)),
		PageInfo: &model.PageInfo{HasNextPage: list.HasNextPage},
	}
	for i, d := range list.Deliveries {
		conn.Edges[i] = &model.WebhookDeliveryEdge{Cursor: encodeCursor(d.ID), Node: d}
	}
	if n := len(list.Deliveries); n > 0 {
		end := encodeCursor(list.Deliveries[n-1].ID)
		conn.PageInfo.EndCursor = &end
	}
	return conn, nil
}

// optionalString is s, or nil when it is empty.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

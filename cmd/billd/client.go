package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// client talks to a billd server's GraphQL API with an API key: queries over HTTP,
// subscriptions over a graphql-transport-ws websocket.
type client struct {
	base string // http(s)://host:port
	key  string
	http *http.Client
}

// apiError is an error the API answered, with its code.
type apiError struct {
	Code    string
	Field   string // the argument the refusal names, if any
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r *gqlResponse) err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	field, _ := r.Errors[0].Extensions["field"].(string)
	return &apiError{Code: code, Field: field, Message: r.Errors[0].Message}
}

// do runs a query or mutation and decodes its data into out.
func (c *client) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/query", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reaching billd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s answered %s, not GraphQL", c.base, resp.Status)
	}
	if err := r.err(); err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// subscribe runs a subscription and calls fn with each result's data until the
// server completes it (nil), fn fails, or ctx ends.
func (c *client) subscribe(ctx context.Context, query string, vars map[string]any, fn func(data json.RawMessage) error) error {
	u, err := url.Parse(c.base + "/query")
	if err != nil {
		return err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		return fmt.Errorf("opening a websocket to %s: %w", u, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	type msg struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + c.key})
	if err := conn.WriteJSON(msg{Type: "connection_init", Payload: init}); err != nil {
		return err
	}
	sub, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	acked := false
	for {
		var m msg
		if err := conn.ReadJSON(&m); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Text != "" {
				return fmt.Errorf("the server closed the subscription: %s", ce.Text)
			}
			return fmt.Errorf("reading the subscription: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			if !acked {
				acked = true
				if err := conn.WriteJSON(msg{ID: "1", Type: "subscribe", Payload: sub}); err != nil {
					return err
				}
			}
		case "ping":
			_ = conn.WriteJSON(msg{Type: "pong"})
		case "next":
			var r gqlResponse
			if err := json.Unmarshal(m.Payload, &r); err != nil {
				return err
			}
			if err := r.err(); err != nil {
				return err
			}
			if err := fn(r.Data); err != nil {
				return err
			}
		case "error":
			var errs []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			}
			_ = json.Unmarshal(m.Payload, &errs)
			if len(errs) > 0 {
				code, _ := errs[0].Extensions["code"].(string)
				return &apiError{Code: code, Message: errs[0].Message}
			}
			return fmt.Errorf("subscription error: %s", m.Payload)
		case "complete":
			return nil
		}
	}
}

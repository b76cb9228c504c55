package syncworker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/orangecarrental/orange/platform"
)

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// newSecret makes a signing secret: 32 random bytes, base64, as the spec has it.
func newSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// secretKey returns the HMAC key of a secret, or an error for one that is not whsec_ +
// base64 of 24 to 64 bytes.
func secretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must be whsec_ followed by the base64 of 24 to 64 bytes")
	}
	return key, nil
}

type subscriptionInput struct {
	URL         *string   `json:"url"`
	Types       *[]string `json:"types"`
	Description *string   `json:"description"`
	Secret      *string   `json:"secret"`
	Status      *string   `json:"status"`
}

// check validates the fields present; create requires url and types.
func (s *Service) check(r *http.Request, in *subscriptionInput, create bool) error {
	var fields []platform.FieldError
	fail := func(f, reason string) { fields = append(fields, platform.FieldError{Field: f, Reason: reason}) }
	if in.URL == nil && create {
		fail("url", "is required")
	} else if in.URL != nil {
		if err := s.guard.CheckURL(r.Context(), *in.URL); err != nil {
			fail("url", err.Error())
		}
	}
	if in.Types == nil && create {
		fail("types", "is required")
	} else if in.Types != nil {
		if len(*in.Types) == 0 {
			fail("types", "must name at least one event type")
		}
		for i, t := range *in.Types {
			if !subscribable(t) {
				fail(fmt.Sprintf("types[%d]", i), "cannot subscribe to "+printable(t)+"; see docs/webhooks.md for the types offered")
			}
		}
		slices.Sort(*in.Types)
		*in.Types = slices.Compact(*in.Types)
	}
	if in.Description != nil {
		switch {
		case utf8.RuneCountInString(*in.Description) > 500:
			fail("description", "must be at most 500 characters")
		case strings.ContainsFunc(*in.Description, unicode.IsControl):
			// It is shown in lists and logs: a line break or a terminal escape would forge
			// lines there.
			fail("description", "must not hold control characters (line breaks, tabs, escapes)")
		}
	}
	if in.Secret != nil {
		if !create {
			fail("secret", "cannot be changed; create a new subscription")
		} else if _, err := secretKey(*in.Secret); err != nil {
			fail("secret", err.Error())
		}
	}
	if in.Status != nil && (create || (*in.Status != "active" && *in.Status != "disabled")) {
		fail("status", "must be active or disabled, and only in an update")
	}
	if len(fields) > 0 {
		return platform.Invalid("the subscription is not valid", fields...)
	}
	return nil
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var in subscriptionInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	if err := s.check(r, &in, true); err != nil {
		return err
	}
	secret := newSecret()
	if in.Secret != nil {
		secret = *in.Secret
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	sub, err := scanSubscription(s.db.Pool.QueryRow(r.Context(), insertSubscription, uuid.NewString(), *in.URL, *in.Types, desc, secret))
	if err != nil {
		return err
	}
	sub.Secret = secret
	w.Header().Set("Location", WebhooksPrefix+"/"+sub.ID)
	return platform.WriteJSON(w, http.StatusCreated, sub)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	if err := platform.ParseQuery(r).Err("the query is not valid"); err != nil {
		return err
	}
	subs, err := s.listSubscriptions(r.Context())
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": subs})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "webhook subscription")
	if err != nil {
		return err
	}
	sub, err := s.getSubscription(r.Context(), id)
	if errors.Is(err, errNotFound) {
		return platform.NotFound("no webhook subscription with id %s", id)
	}
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, sub)
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "webhook subscription")
	if err != nil {
		return err
	}
	var in subscriptionInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	if err := s.check(r, &in, false); err != nil {
		return err
	}
	sub, err := scanSubscription(s.db.Pool.QueryRow(r.Context(), updateSubscription, id, in.URL, in.Types, in.Description, in.Status))
	if errors.Is(err, errNotFound) {
		return platform.NotFound("no webhook subscription with id %s", id)
	}
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, sub)
}

// handleDelete removes the subscription with its queue and log.
func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "webhook subscription")
	if err != nil {
		return err
	}
	tag, err := s.db.Pool.Exec(r.Context(), `DELETE FROM sync.subscriptions WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return platform.NotFound("no webhook subscription with id %s", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleDeliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "webhook subscription")
	if err != nil {
		return err
	}
	q := platform.ParseQuery(r, "status", "limit")
	status := q.Get("status")
	if status != "" && status != "pending" && status != "delivered" && status != "failed" {
		q.Fail("status", "must be pending, delivered or failed")
	}
	limit := q.Int("limit", 1, 500, 100)
	if err := q.Err("the query is not valid"); err != nil {
		return err
	}
	if _, err := s.getSubscription(r.Context(), id); errors.Is(err, errNotFound) {
		return platform.NotFound("no webhook subscription with id %s", id)
	} else if err != nil {
		return err
	}
	ds, err := s.listDeliveries(r.Context(), id, status, limit)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": ds})
}

// deliveryIDs are the subscription's and the delivery's ids of the path.
func deliveryIDs(r *http.Request) (sub, delivery string, err error) {
	if sub, err = platform.PathUUID(r, "webhook subscription"); err != nil {
		return "", "", err
	}
	delivery = strings.ToLower(platform.PathVar(r, "delivery"))
	if !platform.ValidUUID(delivery) {
		return "", "", platform.NotFound("no delivery with id %s", delivery)
	}
	return sub, delivery, nil
}

func (s *Service) handleDelivery(w http.ResponseWriter, r *http.Request) error {
	sub, id, err := deliveryIDs(r)
	if err != nil {
		return err
	}
	d, err := s.getDelivery(r.Context(), sub, id)
	if errors.Is(err, errNotFound) {
		return platform.NotFound("no delivery with id %s", id)
	}
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, d)
}

// handleReplay sends one delivery again, now (docs/webhooks.md).
func (s *Service) handleReplay(w http.ResponseWriter, r *http.Request) error {
	sub, id, err := deliveryIDs(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var got string
	err = s.db.Pool.QueryRow(ctx, replayDelivery, sub, id).Scan(&got)
	if err != nil && !isNoRows(err) {
		return err
	}
	if got == "" {
		subscription, err := s.getSubscription(ctx, sub)
		if err == nil && subscription.Status != "active" {
			return platform.Conflict("the subscription is disabled; enable it first")
		}
		return platform.NotFound("no delivery with id %s", id)
	}
	d, err := s.getDelivery(ctx, sub, id)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusAccepted, d)
}

package smtptest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// LeafBodies reads content (CRLF, not dot-stuffed) with the standard
// library's MIME readers and returns every leaf part's body, decoded
// from quoted-printable where it says so, in order. It is the reader's
// view the conversion must keep.
func LeafBodies(content []byte) ([][]byte, error) {
	var out [][]byte
	err := walkMessage(content, 0, &out)
	return out, err
}

func walkMessage(content []byte, depth int, out *[][]byte) error {
	msg, err := mail.ReadMessage(bytes.NewReader(content))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return err
	}
	return walkEntity(textproto.MIMEHeader(msg.Header), body, "text/plain", depth, out)
}

func walkEntity(h textproto.MIMEHeader, body []byte, defaultType string, depth int, out *[][]byte) error {
	if depth > 40 {
		return errors.New("too deep")
	}
	mediaType, params := defaultType, map[string]string(nil)
	if v := h.Get("Content-Type"); v != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(v); err != nil {
			return err
		}
	}
	cte := strings.ToLower(h.Get("Content-Transfer-Encoding"))
	if k := strings.IndexAny(cte, " \t(;"); k >= 0 {
		cte = cte[:k]
	}
	identity := cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		child := "text/plain"
		if mediaType == "multipart/digest" {
			child = "message/rfc822"
		}
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			pb, err := io.ReadAll(p)
			if err != nil {
				return err
			}
			if err := walkEntity(p.Header, pb, child, depth+1, out); err != nil {
				return err
			}
		}
	case mediaType == "message/rfc822" && identity:
		return walkMessage(body, depth+1, out)
	case cte == "quoted-printable":
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return err
		}
		*out = append(*out, dec)
	default:
		*out = append(*out, body)
	}
	return nil
}

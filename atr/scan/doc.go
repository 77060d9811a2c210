// Package scan inspects MCP tool definitions for tool poisoning before an
// agent's model ever reads them, and fingerprints them so that a definition
// that changes after it was approved (a "rug pull") can be told apart.
//
// A tool definition is text a model reads as instructions: its name, its
// description, and every description, title, default and example inside its
// input schema. [Tool] and [Scanner.Tool] look in all of them for the
// shapes of known attacks and return [Finding] values, each with a [Kind],
// a [Severity], the field it was found in (for example
// "inputSchema/properties/q/description"), its byte offset there and
// escaped, bounded evidence:
//
//   - invisible Unicode: zero-width and format characters, bidirectional
//     overrides and isolates, the tag characters U+E0000–U+E007F (decoded and
//     scanned, since they smuggle ASCII) and variation selectors used to hide
//     bytes;
//   - hidden markup: HTML comments, Markdown link-definition comments
//     ("[//]: #"), elements styled invisible, <details> blocks;
//   - prompt injection: "ignore previous instructions", "disregard",
//     "system:" lines and <system>/<IMPORTANT> tags, "do not tell the user",
//     "you must", instructions about other tools;
//   - encoded blobs: base64 or hex of 40 characters or more, decoded and the
//     decoded text scanned again, to a bounded depth;
//   - exfiltration hints: URLs, IP addresses, curl/wget/nc, "send to",
//     "upload", and references to secrets (~/.ssh, id_rsa, .env, API keys) —
//     a secret together with a destination in one text is critical;
//   - text hidden after a long run of blank lines or spaces;
//   - over-permissive input schemas: "{}", objects with no properties that
//     accept anything, free-form string properties named like commands
//     ("command", "shell", "sql"…), huge maxLength.
//
// [Shadowing] compares a tool's name with names the agent already knows
// (another server's tools): a confusable spelling or an edit distance of
// one is reported. [Fingerprint] is the SHA-256 of a documented canonical
// encoding of a definition, for pinning.
//
// Text is compared after a folding that the standard library allows:
// letters are lower-cased; fullwidth forms, mathematical alphanumerics,
// circled letters and the common Cyrillic and Greek look-alikes of Latin
// letters are mapped to ASCII; combining marks and invisible characters are
// dropped; runs of white space become one space. This is not Unicode NFKC:
// look-alikes outside those tables (Armenian, Cherokee, many symbols) pass
// unfolded, and a phrase split by ordinary words or synonyms passes too.
//
// Scanning finds known shapes; it cannot find intent. A description that
// says in plain, polite words that the model should do something harmful,
// an instruction in a language the patterns do not cover, or a tool whose
// code does something other than its description says, passes. Pinning is
// what protects against a definition that changes after review, and policy
// on every call is what protects against a tool that was always hostile.
//
// Every input is bounded (text per field, schema size, depth and nodes,
// decoding depth, findings per call) so that a hostile definition cannot
// make a scan slow; what exceeds a bound is itself reported. A [Scanner]
// is immutable and safe for concurrent use; the package functions use one
// with the default [Options].
package scan

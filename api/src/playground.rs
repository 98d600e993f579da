//! The playground: GraphiQL, served by the binary alone. Its scripts and styles are compiled in
//! (`build.rs` takes them from the npm registry, pinned and checked) and served under versioned
//! paths, so the page makes no request to another origin and works with no network.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// One file of the playground: its path under `/playground/`, media type and bytes.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($dir:literal, $file:literal, $media_type:literal) => {
        Asset {
            path: concat!($dir, "/", $file),
            media_type: $media_type,
            bytes: include_bytes!(concat!(env!("OUT_DIR"), "/playground/", $dir, "/", $file)),
        }
    };
}

/// Every file the page loads, and GraphiQL's licence.
const ASSETS: [Asset; 5] = [
    asset!(
        "react-18.3.1",
        "react.production.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "react-dom-18.3.1",
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "graphiql-4.1.2",
        "graphiql.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "graphiql-4.1.2",
        "graphiql.min.css",
        "text/css; charset=utf-8"
    ),
    asset!("graphiql-4.1.2", "LICENSE", "text/plain; charset=utf-8"),
];

/// `GET /playground/{*path}`: a file of the playground, cacheable for a year (its path names its
/// version); 404 for any other path.
pub async fn asset(Path(path): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.media_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

/// The playground's page for the GraphQL endpoint `endpoint`, with `query` in its editor when
/// given. `subscription_url`, when given, is the WebSocket URL its fetcher uses for
/// subscriptions.
pub fn page(endpoint: &str, subscription_url: Option<&str>, query: Option<&str>) -> Html<String> {
    let config = serde_json::json!({
        "url": endpoint,
        "subscriptionUrl": subscription_url,
        "query": query,
    });
    // In a `<script>` element nothing may read as `</script>` or `<!--`: JSON allows `<` as
    // `\u003c`, so the query cannot end the element whatever it holds.
    let config = config.to_string().replace('<', "\\u003c");
    Html(PAGE.replace("{{CONFIG}}", &config))
}

/// The page: GraphiQL over this server's endpoint, every file from this server.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authors and books: GraphiQL</title>
<link rel="stylesheet" href="/playground/graphiql-4.1.2/graphiql.min.css">
<style>
  html, body { height: 100%; margin: 0; }
  #graphiql { height: 100vh; }
</style>
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script src="/playground/react-18.3.1/react.production.min.js"></script>
<script src="/playground/react-dom-18.3.1/react-dom.production.min.js"></script>
<script src="/playground/graphiql-4.1.2/graphiql.min.js"></script>
<script id="playground-config" type="application/json">{{CONFIG}}</script>
<script>
  const config = JSON.parse(document.getElementById("playground-config").textContent);
  // Subscriptions go over a WebSocket to the same endpoint (graphql-transport-ws).
  let subscriptionUrl;
  if (config.subscriptionUrl) {
    const ws = new URL(config.subscriptionUrl, window.location.href);
    if (ws.protocol === "http:") ws.protocol = "ws:";
    if (ws.protocol === "https:") ws.protocol = "wss:";
    subscriptionUrl = ws.href;
  }
  const fetcher = GraphiQL.createFetcher({
    url: new URL(config.url, window.location.href).href,
    subscriptionUrl,
  });
  const props = { fetcher, defaultEditorToolsVisibility: true };
  if (config.query) {
    props.query = config.query;
  }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, props),
  );
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_this_server_serves() {
        let page = page("/graphql", None, None).0;
        let mut references = 0;
        for attribute in ["src=\"", "href=\""] {
            for (start, _) in page.match_indices(attribute) {
                let target = &page[start + attribute.len()..];
                let target = &target[..target.find('"').unwrap()];
                let path = target
                    .strip_prefix("/playground/")
                    .unwrap_or_else(|| panic!("{target} is not served by this server"));
                let asset = ASSETS.iter().find(|asset| asset.path == path).unwrap();
                assert!(
                    asset.bytes.len() > 1000,
                    "{path} is {} bytes",
                    asset.bytes.len()
                );
                references += 1;
            }
        }
        assert_eq!(references, 4);
    }

    #[test]
    fn a_query_cannot_end_the_script_element() {
        let query = "{ authors { nodes { name } } } # </script><script>alert(1)</script> <!--";
        let page = page("/graphql", Some("ws://localhost/graphql"), Some(query)).0;
        assert_eq!(page.matches("</script>").count(), 5);
        assert!(!page.contains("<!--"));
        let start = page.find("type=\"application/json\">").unwrap() + 24;
        let json = &page[start..start + page[start..].find("</script>").unwrap()];
        let config: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(config["query"], query);
        assert_eq!(config["subscriptionUrl"], "ws://localhost/graphql");
    }
}

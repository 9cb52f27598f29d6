//! What the benchmarks share: a GraphQL client for one account, which fails loudly on any
//! error (a benchmark that counts refusals as answers measures nothing).

/// A fresh address for an account made by a benchmark.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

use serde_json::{Value, json};
use uuid::Uuid;

pub struct Api {
    pub url: String,
    pub client: reqwest::Client,
    pub token: String,
}

impl Api {
    /// Registers an account on the server at `base`; returns its client and the user's id.
    pub async fn register(
        base: &str,
        client: reqwest::Client,
        email: &str,
        password: &str,
    ) -> (Api, Uuid) {
        let url = format!("{base}/graphql");
        let mut api = Api {
            url,
            client,
            token: String::new(),
        };
        let data = api
            .gql(
                "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }",
                json!({ "i": { "email": email, "password": password, "name": "Bench" } }),
            )
            .await;
        api.token = data["register"]["accessToken"]
            .as_str()
            .expect("registered")
            .to_string();
        let id = data["register"]["user"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        (api, id)
    }

    /// The answer's `data`; panics on `errors`. Sent without a token while it is empty.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let body: Value = request
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("JSON");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

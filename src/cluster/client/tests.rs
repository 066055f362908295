//! The client's unit tests: no secret shown, messages that name the settings in use.
use super::*;

#[test]
fn passwords_never_show() {
    assert_eq!(shown("https://bob:s3cret@es.example:9200/"), "https://bob:****@es.example:9200/");
    assert!(!shown("not a url but has bob:s3cret@host").contains("s3cret"));
    let client = EsClient::new(&config("http://bob:p%40ss@127.0.0.1:9/")).unwrap();
    assert_eq!(client.url(), "http://127.0.0.1:9");
}

fn config(url: &str) -> ClusterSettings {
    ClusterSettings { timeout: Duration::from_secs(1), ..ClusterSettings::new(url) }
}

#[test]
fn a_url_without_scheme_never_shows_its_password() {
    // `user:password@host:port` parses as scheme `user` with a path: it used to reach the
    // "cannot reach" message whole.
    let url = "elastic:s3cret@127.0.0.1:9202";
    assert!(!shown(url).contains("s3cret"), "{}", shown(url));
    let err = EsClient::new(&config(url)).err().expect("not an http(s) URL").to_string();
    assert!(err.contains("must be an http:// or https:// URL") && !err.contains("s3cret"), "{err}");
    let err = EsClient::new(&config("ftp://bob:s3cret@h/")).err().expect("not http(s)").to_string();
    assert!(err.contains("ftp://bob:****@h/") && !err.contains("s3cret"), "{err}");
}

#[test]
fn config_debug_hides_secrets() {
    let config = ClusterSettings {
        user: Some("bob".into()),
        password: Some("s3cret".into()),
        api_key: Some("id:k3y".into()),
        ..config("https://bob:urlpass@h:9200")
    };
    let text = format!("{config:?}");
    for secret in ["s3cret", "k3y", "urlpass"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("bob") && text.contains("<hidden>"), "{text}");
}

#[test]
fn refusals_say_which_credentials_and_what_to_do() {
    let reply = |status, body: &str| Reply { status, body: Bytes::from(body.to_string()) };
    let refusal = |config: ClusterSettings, reply: &Reply| {
        EsClient::new(&config).unwrap().unauthorized(reply).to_string()
    };
    let denied = reply(401, r#"{"error":{"reason":"unable to authenticate user [bob]"}}"#);

    let none = refusal(config("https://h:9200"), &denied);
    assert_eq!(
        none,
        "https://h:9200 requires credentials (HTTP 401) and none were given: set --es-user and \
         ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY"
    );
    let basic = refusal(config("https://bob:s3cret@h:9200"), &denied);
    assert!(
        basic.starts_with("https://h:9200 refused our credentials (HTTP 401, basic auth as user \"bob\")")
    );
    assert!(basic.contains("ELASTICSEARCH_PASSWORD") && !basic.contains("s3cret"), "{basic}");
    let key =
        refusal(ClusterSettings { api_key: Some("id:k3y".into()), ..config("https://h:9200") }, &denied);
    assert!(
        key.contains("(HTTP 401, the API key in ELASTICSEARCH_API_KEY)") && !key.contains("k3y"),
        "{key}"
    );

    let forbidden = reply(403, r#"{"error":{"reason":"action [cluster:monitor/main] is unauthorized"}}"#);
    let no_privilege = refusal(config("https://bob:s3cret@h:9200"), &forbidden);
    assert_eq!(
        no_privilege,
        "https://h:9200 refused our credentials (HTTP 403, basic auth as user \"bob\"): \
         action [cluster:monitor/main] is unauthorized"
    );
}

#[test]
fn transport_errors_get_a_hint_for_common_mistakes() {
    let tls = "client error (Connect): invalid peer certificate: UnknownIssuer";
    let labels = Labels::default();
    match transport_error("https://h:9200", &labels, tls.into()) {
        ClientError::Untrusted { reason, .. } => {
            assert!(reason.starts_with(tls) && reason.contains("--ca-cert PATH"), "{reason}")
        }
        other => panic!("a certificate problem is not an outage: {other:?}"),
    }
    let kibana = Labels { ca_cert: "--kibana-ca-cert".into(), ..Labels::default() };
    let hint = transport_error("https://k:5601", &kibana, tls.into()).to_string();
    assert!(hint.contains("with --kibana-ca-cert PATH"), "{hint}");
    let refused = transport_error("http://h:9200", &labels, "tcp connect error: Connection refused".into());
    assert!(matches!(refused, ClientError::Unreachable { .. }));
}

#[test]
fn messages_name_the_settings_actually_in_use() {
    let labels = Labels {
        url: "--kibana".into(),
        user: "--kibana-user".into(),
        password_env: "KIBANA_PASSWORD".into(),
        api_key_env: String::new(),
        ..Labels::default()
    };
    let err = EsClient::new(&ClusterSettings { labels: labels.clone(), ..config("nope") }).err().unwrap();
    assert!(err.to_string().contains(": --kibana \"nope\" is not a URL"), "{err}");
    let renamed = Labels { password_env: "CT_PW".into(), api_key_env: "CT_KEY".into(), ..Labels::default() };
    let reply = Reply { status: 401, body: Bytes::from_static(b"{}") };
    let client = EsClient::new(&ClusterSettings { labels: renamed, ..config("https://h:9200") }).unwrap();
    let text = client.unauthorized(&reply).to_string();
    assert!(text.contains("set --es-user and CT_PW, or CT_KEY"), "{text}");
    assert!(!text.contains("ELASTICSEARCH_"), "{text}");
    let kibana = EsClient::new(&ClusterSettings { labels, ..config("https://bob:pw@k:5601") }).unwrap();
    let text = kibana.unauthorized(&reply).to_string();
    assert!(text.contains("check --kibana-user and KIBANA_PASSWORD (or the URL's user:password)"), "{text}");
    assert!(!text.contains("API key") && !text.contains(", or"), "{text}");
}

#[test]
fn url_credentials_are_decoded() {
    let mut url = Url::parse("http://bob:p%40ss+w@h/").unwrap();
    match basic_from_url(&mut url) {
        Some(Credentials::Basic(u, p)) => assert_eq!((u.as_str(), p.as_str()), ("bob", "p@ss+w")),
        _ => panic!("expected basic credentials"),
    }
    assert_eq!(url.as_str(), "http://h/");
}

//! The prefilter's requirements (`requirement.rs`) against the evaluator: every event a rule
//! matches passes its rule's requirements, and the events listed as skipped are skipped.

use crate::detect::event::RecordView;
use crate::detect::prefilter::Prefilter;
use rsigma_parser::parse_sigma_yaml;

/// For each (detection, event, whether the filter may pass it): the filter passes every event
/// the rule matches, and skips the others listed as skipped.
fn check(detection: &str, cases: &[(&str, bool)]) {
    let text = format!("title: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}");
    let rules = parse_sigma_yaml(&text).unwrap().rules;
    let filter = Prefilter::new(&rules);
    assert!(filter.reads_fields_only(), "{detection}");
    let compiled = rsigma_eval::compile_rule(&rules[0]).unwrap();
    for (event, passes) in cases {
        let view = RecordView::new(event.as_bytes()).unwrap();
        let matched = rsigma_eval::evaluate_rule(&compiled, &view).is_some();
        let may = filter.may_match(event.as_bytes());
        assert!(may || !matched, "skipped a match: {event}");
        assert_eq!(may, *passes, "{detection} {event}");
    }
}

#[test]
fn names_are_looked_up_and_other_bytes_do_not_count() {
    check(
        "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName: [StopLogging, DeleteTrail]\n  condition: selection\n",
        &[
            (r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"stoplogging"}"#, true),
            (r#"{"eventName":"DeleteTrail"}"#, true),
            // The name elsewhere in the event does not make it a candidate (the byte search did).
            (r#"{"eventName":"LookupEvents","requestParameters":{"eventName":"StopLogging"}}"#, false),
            (r#"{"eventName":"\u0053topLogging"}"#, true),
            (r#"{"eventName":"StopLogging2"}"#, false),
            (r#"{"eventName":12}"#, true),
            (r#"{"eventName":["x"]}"#, true),
            (r#"{"eventname":"StopLogging"}"#, false),
        ],
    );
    // A non-ASCII value may lower-case to the rule's text (K, the Kelvin sign, becomes k).
    check(
        "  selection:\n    eventName: kms\n  condition: selection\n",
        &[
            ("{\"eventName\":\"\u{212A}ms\"}", true),
            (r#"{"eventName":"\u00e9"}"#, true),
            (r#"{"eventName":"km"}"#, false),
        ],
    );
}

#[test]
fn nested_fields_are_read_where_the_evaluator_reads_them() {
    check(
        "  selection:\n    userIdentity.type: Root\n  condition: selection\n",
        &[
            (r#"{"userIdentity":{"type":"Root"}}"#, true),
            (r#"{"userIdentity":{"type":"IAMUser"},"x":"Root"}"#, false),
            (r#"{"userIdentity":[{"type":"x"},{"type":"root"}]}"#, true),
            (r#"{"userIdentity.type":"Root","userIdentity":{"type":"x"}}"#, true),
            // The last of a repeated nested key counts, as in a parsed tree.
            (r#"{"userIdentity":{"type":"Root","type":"IAMUser"}}"#, false),
            (r#"{"userIdentity":{"type":"IAMUser","type":"Root"}}"#, true),
        ],
    );
}

#[test]
fn wildcards_patterns_and_objects_as_text() {
    check(
        "  selection:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: selection\n",
        &[
            (r#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"}}"#, true),
            (r#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/admin/jane"}}"#, false),
        ],
    );
    check(
        "  selection:\n    eventName|startswith: 'Update*Config'\n    userAgent: '*Boto3?x*'\n  condition: selection\n",
        &[(r#"{"eventName":"UpdateFunctionConfiguration"}"#, true), (r#"{"eventName":"Updated"}"#, false)],
    );
    check(
        "  selection:\n    requestParameters|contains: '\"Effect\":\"Allow\"'\n  condition: selection\n",
        &[
            (r#"{"requestParameters":{"policy":"{\"Effect\":\"Allow\"}"}}"#, true),
            (r#"{"requestParameters":{"Effect":"Allow"}}"#, true),
            (r#"{"requestParameters":{"policy":"{}"},"Effect":"Allow"}"#, false),
        ],
    );
}

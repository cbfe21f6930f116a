//! Deployment checks no template linter makes (`make lint-template` runs cfn-lint for the rest):
//!
//! - every configuration variable the Lambda binaries read — the `"OBO_…"` string literals in the
//!   sources of the Lambda packages and the workspace crates they depend on, not a hand-kept list —
//!   is documented in the configuration table of docs/configuration.md (which names no variable the
//!   Lambdas do not read) and, unless that table says it is for
//!   local runs only, set on a function in template.yaml; the template sets no variable the code
//!   does not read, and none meant for local runs only;
//! - template.yaml builds exactly the workspace's Lambda binaries, and `sam build` (`BuildMethod:
//!   makefile`: `make build-<LogicalId>`), `make build` and `make package` ship the same ones: the
//!   release build for `aarch64-unknown-linux-musl` (cfn-lint does not look at `Metadata`).
//!
//! A Lambda package is a workspace package with a binary target and a normal dependency on
//! `lambda_runtime`. A variable is "local runs only" when its table row says `local runs
//! only` (or `local-only`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// The document whose table lists every variable of both Lambdas.
const CONFIGURATION_DOC: &str = "docs/configuration.md";

/// The phrases that mark a configuration table row as a variable for local runs only.
const LOCAL_ONLY_MARKS: [&str; 2] = ["local runs only", "local-only"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One workspace package, from `cargo metadata`.
struct Package {
    dir: PathBuf,
    bins: Vec<String>,
    uses_lambda_runtime: bool,
    /// Normal (not dev or build) dependencies on other workspace packages.
    workspace_deps: Vec<String>,
}

fn workspace_packages() -> BTreeMap<String, Package> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Json = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut result = BTreeMap::new();
    for package in packages {
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("manifest_path"));
        let bins = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        let normal_deps: Vec<&Json> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .collect();
        let dep_names = || normal_deps.iter().filter_map(|d| d["name"].as_str());
        result.insert(
            package["name"].as_str().expect("name").to_owned(),
            Package {
                dir: manifest.parent().expect("package directory").to_path_buf(),
                bins,
                uses_lambda_runtime: dep_names().any(|d| d == "lambda_runtime"),
                workspace_deps: dep_names().filter(|d| names.contains(d)).map(str::to_owned).collect(),
            },
        );
    }
    result
}

/// The Lambda packages' names.
fn lambda_packages(packages: &BTreeMap<String, Package>) -> Vec<&str> {
    let lambdas: Vec<&str> = packages
        .iter()
        .filter(|(_, p)| p.uses_lambda_runtime && !p.bins.is_empty())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(!lambdas.is_empty(), "no workspace package has a binary that depends on lambda_runtime");
    lambdas
}

/// The Lambda packages and every workspace package they depend on (transitively).
fn lambda_sources(packages: &BTreeMap<String, Package>) -> Vec<&Package> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = lambda_packages(packages);
    while let Some(name) = todo.pop() {
        if seen.insert(name) {
            todo.extend(packages[name].workspace_deps.iter().map(String::as_str));
        }
    }
    seen.iter().map(|name| &packages[*name]).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `"OBO_…"` literals of one source file, outside comments and the unit-test module.
fn config_keys(source: &str, keys: &mut BTreeSet<String>) {
    let code = source.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (start, _) in line.match_indices("\"OBO_") {
            let rest = &line[start + 1..];
            let len = rest.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
            if let Some(len) = len
                && rest[len..].starts_with('"')
            {
                keys.insert(rest[..len].to_owned());
            }
        }
    }
}

/// Every variable the Lambda binaries read.
fn lambda_variables() -> BTreeSet<String> {
    let packages = workspace_packages();
    let mut files = Vec::new();
    for package in lambda_sources(&packages) {
        rust_files(&package.dir.join("src"), &mut files);
    }
    let mut keys = BTreeSet::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        config_keys(&source, &mut keys);
    }
    keys
}

/// The variables a document's tables document (named in a row's first cell), and whether their rows
/// mark them as local runs only.
fn table_variables(doc: &str) -> BTreeMap<String, bool> {
    let mut documented = BTreeMap::new();
    for row in doc.lines().filter(|l| l.trim_start().starts_with('|')) {
        let Some(first_cell) = row.split('|').nth(1) else { continue };
        let lower = row.to_ascii_lowercase();
        let local_only = LOCAL_ONLY_MARKS.iter().any(|mark| lower.contains(mark));
        for name in first_cell.split('`').skip(1).step_by(2).filter(|n| n.starts_with("OBO_")) {
            // Local-only only if every row naming it says so.
            documented
                .entry(name.to_owned())
                .and_modify(|l: &mut bool| *l &= local_only)
                .or_insert(local_only);
        }
    }
    documented
}

/// docs/configuration.md: the one table of both Lambdas' variables.
fn configuration_docs() -> String {
    read(CONFIGURATION_DOC)
}

fn parse_yaml(text: &str) -> Yaml {
    serde_norway::from_str(text).expect("template.yaml is YAML")
}

/// The template's `AWS::Serverless::Function` resources, by logical id.
fn functions(template: &Yaml) -> Vec<(String, &Yaml)> {
    let resources = template["Resources"].as_mapping().expect("template.yaml has Resources");
    resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().expect("logical id").to_owned(), r))
        .collect()
}

/// The environment variables the template sets on any function (`Globals` included).
fn template_variables(template: &Yaml) -> BTreeSet<String> {
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    let per_function =
        functions(template).into_iter().map(|(_, f)| &f["Properties"]["Environment"]["Variables"]);
    std::iter::once(globals)
        .chain(per_function)
        .filter_map(Yaml::as_mapping)
        .flat_map(|vars| vars.keys().filter_map(Yaml::as_str).map(str::to_owned))
        .collect()
}

/// Fails with `what` and one line per item unless there are none.
fn assert_none<T: std::fmt::Display>(what: &str, items: impl IntoIterator<Item = T>) {
    let lines: Vec<String> = items.into_iter().map(|item| item.to_string()).collect();
    assert!(lines.is_empty(), "{what}:\n  {}", lines.join("\n  "));
}

fn report(problems: &[(String, BTreeSet<String>)]) -> String {
    problems
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what}:\n  {}", names.iter().cloned().collect::<Vec<_>>().join("\n  ")))
        .collect::<Vec<_>>()
        .join("\n")
}

const SAMPLE_SOURCE: &str = r#"
let a = env.list("OBO_CALLER_CLIENT_IDS")?;
    // env.string("OBO_COMMENTED")
let b = format!("OBO_NOT_A_KEY {x}"); let c = "OBO_X2";
#[cfg(test)]
mod tests {
    const T: &str = "OBO_TEST_ONLY";
}
"#;

const SAMPLE_DOC: &str = r#"
| variable | default | meaning |
|---|---|---|
| `OBO_A`, `OBO_B` | `1` | Mentions `OBO_C` outside the first cell. |
| `OBO_SECRET` | — | A literal secret, for local runs only. |
Text naming `OBO_D`.
"#;

const SAMPLE_TEMPLATE: &str = r#"
Globals:
  Function:
    Environment:
      Variables:
        OBO_G: x
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          OBO_R: !Ref P
          OBO_I:
            !If
              - C
              - !Sub "${P}"
              - ""
  T:
    Type: AWS::SNS::Topic
    Properties:
      Environment:
        Variables:
          OBO_NOT_A_FUNCTION: x
"#;

#[test]
fn the_readers_find_what_they_should_and_nothing_else() {
    let mut keys = BTreeSet::new();
    config_keys(SAMPLE_SOURCE, &mut keys);
    assert_eq!(keys, BTreeSet::from(["OBO_CALLER_CLIENT_IDS".to_owned(), "OBO_X2".to_owned()]));
    let documented = table_variables(SAMPLE_DOC);
    let expected = [("OBO_A", false), ("OBO_B", false), ("OBO_SECRET", true)];
    assert_eq!(documented, expected.into_iter().map(|(v, l)| (v.to_owned(), l)).collect());
    let names: Vec<String> = template_variables(&parse_yaml(SAMPLE_TEMPLATE)).into_iter().collect();
    assert_eq!(names, ["OBO_G", "OBO_I", "OBO_R"]);
}

#[test]
fn the_source_scan_sees_both_lambdas_configuration() {
    let variables = lambda_variables();
    // One key of the trigger, one of the interceptor, one shared.
    for expected in ["OBO_CALLER_CLIENT_IDS", "OBO_TARGETS", "OBO_SUBJECT_ISSUERS"] {
        assert!(
            variables.contains(expected),
            "the scan of the Lambda sources missed {expected}: {variables:?}"
        );
    }
}

#[test]
fn configuration_doc_documents_every_variable_the_lambdas_read_and_no_other() {
    let documented = table_variables(&configuration_docs());
    let read_by_code = lambda_variables();
    assert_none(
        "docs/configuration.md has no table row (variable in the first cell) for these variables the Lambdas read",
        read_by_code.iter().filter(|v| !documented.contains_key(*v)),
    );
    assert_none(
        "docs/configuration.md documents these variables, which no Lambda reads (misspelt, or removed?)",
        documented.keys().filter(|v| !read_by_code.contains(*v)),
    );
}

#[test]
fn template_sets_every_deployable_variable_and_nothing_else() {
    let read_by_code = lambda_variables();
    let documented = table_variables(&configuration_docs());
    let local_only = |v: &String| documented.get(v).copied().unwrap_or(false);
    let template = parse_yaml(&read("template.yaml"));
    let set = template_variables(&template);
    let set_obo: BTreeSet<String> = set.iter().filter(|v| v.starts_with("OBO_")).cloned().collect();
    let problems = [
        (
            "read by the Lambdas but set on no function in template.yaml (or mark its docs/configuration.md row `local runs only`)"
                .to_owned(),
            read_by_code.iter().filter(|v| !local_only(v) && !set.contains(*v)).cloned().collect(),
        ),
        (
            "set in template.yaml although docs/configuration.md documents them for local runs only".to_owned(),
            set_obo.iter().filter(|v| local_only(v)).cloned().collect(),
        ),
        (
            "set in template.yaml but read by no Lambda (misspelt?)".to_owned(),
            set_obo.difference(&read_by_code).cloned().collect(),
        ),
    ];
    let report = report(&problems);
    assert!(report.is_empty(), "{report}");
}

/// What `make -n <goals>` would run (in the workspace root, with a fixed target directory and SAM's
/// artefacts directory), one command per line.
fn make_dry_run(goals: &[&str]) -> Vec<String> {
    let out = Command::new("make")
        .args(["-n", "--no-print-directory", "CARGO=cargo", "ARTIFACTS_DIR=/sam-artifacts"])
        .args(goals)
        .env("CARGO_TARGET_DIR", "/cargo-target")
        // Not the flags of a `make test` this runs under.
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .current_dir(workspace_root())
        .output()
        .expect("run make -n");
    assert!(out.status.success(), "make -n {goals:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The command that builds `package` as deployed: release, static musl, arm64.
fn deployed_build(package: &str) -> String {
    format!("cargo lambda build --release --target {DEPLOYED_TARGET} -p {package}")
}

/// The deployed target: musl, whose `setenv` frees replaced values (glibc's leaks one per invocation
/// under `lambda_runtime`, docs/performance.md).
const DEPLOYED_TARGET: &str = "aarch64-unknown-linux-musl";

#[test]
fn sam_build_make_build_and_make_package_ship_the_same_musl_binaries() {
    let packages = workspace_packages();
    let lambdas = lambda_packages(&packages);
    let expected: BTreeSet<String> = lambdas.iter().flat_map(|p| packages[*p].bins.iter().cloned()).collect();
    let make_build = make_dry_run(&["build"]);
    let make_package = make_dry_run(&["package"]);
    let template = parse_yaml(&read("template.yaml"));
    let mut built = BTreeSet::new();
    for (id, function) in functions(&template) {
        let metadata = &function["Metadata"];
        let properties = &function["Properties"];
        // `sam build` runs `make build-<id>` with the workspace's Makefile, in the workspace itself
        // (not a copy: cargo's target directory and lock file are the ones `make build` uses).
        assert_eq!(metadata["BuildMethod"].as_str(), Some("makefile"), "{id}: Metadata.BuildMethod");
        assert_eq!(metadata["ContextPath"].as_str(), Some("."), "{id}: Metadata.ContextPath");
        assert_eq!(metadata["WorkingDirectory"].as_str(), Some("."), "{id}: Metadata.WorkingDirectory");
        assert_eq!(properties["Runtime"].as_str(), Some("provided.al2023"), "{id}: Runtime");
        assert_eq!(properties["Handler"].as_str(), Some("bootstrap"), "{id}: Handler");
        let arm64 =
            properties["Architectures"].as_sequence().map(|a| a.iter().filter_map(Yaml::as_str).collect());
        assert_eq!(arm64, Some(vec!["arm64"]), "{id}: Architectures");
        // CodeUri names the package; its one binary is what the function runs.
        let code_uri = workspace_root().join(properties["CodeUri"].as_str().unwrap_or_default());
        let (name, package) = lambdas
            .iter()
            .map(|name| (*name, &packages[*name]))
            .find(|(_, p)| p.dir.canonicalize().ok() == code_uri.canonicalize().ok())
            .unwrap_or_else(|| {
                panic!("{id}: CodeUri {} is not a Lambda package's directory", code_uri.display())
            });
        let [binary] = package.bins.as_slice() else {
            panic!("{id}: package {name} has not exactly one binary")
        };
        assert!(built.insert(binary.clone()), "{id}: binary {binary} is built twice");
        let artefact = format!("/cargo-target/lambda/{binary}/bootstrap");
        let sam = make_dry_run(&[format!("build-{id}").as_str()]);
        assert_eq!(
            sam,
            [deployed_build(name), format!("cp {artefact} /sam-artifacts/bootstrap")],
            "{id}: `make build-{id}` (what sam build runs) must build {binary} as deployed and copy it"
        );
        assert!(
            make_build.contains(&deployed_build(name)),
            "make build does not build {name}: {make_build:?}"
        );
        assert!(
            make_package.iter().any(|l| l.contains(&format!("zip -q -X -j dist/{binary}.zip {artefact}"))),
            "make package does not zip {artefact}: {make_package:?}"
        );
    }
    assert_eq!(
        built, expected,
        "the binaries template.yaml's functions build (left) differ from the workspace's Lambda binaries (right)"
    );
}

// ---------------------------------------------------------------- CloudFormation deploys and updates

#[path = "deploy/template.rs"]
mod template;

use template::{Deployment, intrinsic};

/// How each resource type's physical name is made (the properties that form it), and the
/// namespace in which it must be unique. A resource without these properties gets a generated,
/// unique name.
const NAMED: [(&str, &str, &[&str]); 12] = [
    ("AWS::Serverless::Function", "Lambda function", &["FunctionName"]),
    ("AWS::Lambda::Function", "Lambda function", &["FunctionName"]),
    ("AWS::Logs::LogGroup", "log group", &["LogGroupName"]),
    ("AWS::BedrockAgentCore::Gateway", "gateway", &["Name"]),
    ("AWS::BedrockAgentCore::OAuth2CredentialProvider", "credential provider", &["Name"]),
    ("AWS::BedrockAgentCore::GatewayTarget", "gateway target", &["GatewayIdentifier", "Name"]),
    ("AWS::Cognito::UserPool", "user pool", &["UserPoolName"]),
    ("AWS::Cognito::UserPoolDomain", "user pool domain", &["Domain"]),
    ("AWS::Cognito::UserPoolResourceServer", "resource server", &["UserPoolId", "Identifier"]),
    ("AWS::IAM::Role", "role", &["RoleName"]),
    ("AWS::SecretsManager::Secret", "secret", &["Name"]),
    ("AWS::CloudWatch::Alarm", "alarm", &["AlarmName"]),
];

/// Every physical name a deployment gives: (namespace, name) → logical id. Inline policies are
/// named per role (an `AWS::IAM::Policy` and a role's own `Policies` share that namespace).
fn physical_names(deployment: &Deployment, template: &Yaml) -> Vec<((String, String), String)> {
    let mut names = Vec::new();
    for id in deployment.resources() {
        let resource = &template["Resources"][id];
        let kind = resource["Type"].as_str().unwrap_or_default();
        let properties = &resource["Properties"];
        if let Some((_, namespace, keys)) = NAMED.iter().find(|(t, _, _)| *t == kind) {
            if keys.iter().all(|k| properties[*k].is_null()) {
                continue;
            }
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    deployment.string(&properties[*k]).unwrap_or_else(|| panic!("{id}.{k} has no value"))
                })
                .collect();
            names.push(((namespace.to_string(), parts.join("/")), id.to_owned()));
        }
        if kind == "AWS::IAM::Policy" {
            let policy = deployment.string(&properties["PolicyName"]).expect("PolicyName");
            for role in deployment.list(&properties["Roles"]) {
                names.push((("inline policy".to_owned(), format!("{role}/{policy}")), id.to_owned()));
            }
        }
        if kind == "AWS::IAM::Role" {
            for policy in properties["Policies"].as_sequence().into_iter().flatten() {
                let policy = deployment.string(&policy["PolicyName"]).expect("PolicyName");
                names.push((("inline policy".to_owned(), format!("<{id}>/{policy}")), id.to_owned()));
            }
        }
    }
    names
}

/// The parameters the conditions read, each with the values that decide them: its allowed values,
/// or every literal it is compared with plus one it is not.
fn condition_inputs(template: &Yaml) -> BTreeMap<String, Vec<String>> {
    fn walk(value: &Yaml, compared: &mut BTreeMap<String, BTreeSet<String>>) {
        if let Some((function, argument)) = intrinsic(value) {
            if function == "Fn::Equals" {
                let items = argument.as_sequence().expect("Equals arguments");
                for (a, b) in [(&items[0], &items[1]), (&items[1], &items[0])] {
                    if let (Some(("Ref", name)), Some(literal)) =
                        (intrinsic(a).as_ref().map(|(f, v)| (f.as_str(), v.as_str())), b.as_str())
                    {
                        let entry = compared.entry(name.unwrap_or_default().to_owned()).or_default();
                        entry.insert(literal.to_owned());
                    }
                }
            }
            return walk(argument, compared);
        }
        if let Some(items) = value.as_sequence() {
            items.iter().for_each(|item| walk(item, compared));
        }
    }
    let mut compared = BTreeMap::new();
    for condition in template["Conditions"].as_mapping().expect("Conditions").values() {
        walk(condition, &mut compared);
    }
    compared
        .into_iter()
        .map(|(name, literals)| {
            let spec = &template["Parameters"][name.as_str()];
            let values = match spec["AllowedValues"].as_sequence() {
                Some(allowed) => allowed.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                None => literals.into_iter().chain(["set-by-the-deployer".to_owned()]).collect(),
            };
            (name, values)
        })
        .collect()
}

/// Every combination of the values that decide the conditions.
fn every_combination(template: &Yaml) -> Vec<BTreeMap<String, String>> {
    let mut combinations = vec![BTreeMap::new()];
    for (name, values) in condition_inputs(template) {
        let mut next = Vec::with_capacity(combinations.len() * values.len());
        for base in &combinations {
            for value in &values {
                let mut combination = base.clone();
                combination.insert(name.clone(), value.clone());
                next.push(combination);
            }
        }
        combinations = next;
    }
    combinations
}

/// Stack names at CloudFormation's limits: `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters.
fn stack_names() -> Vec<String> {
    let long = format!("Long--Stack-{}", "x".repeat(116));
    assert_eq!(long.len(), 128);
    vec!["s".to_owned(), "my-stack".to_owned(), "a--b".to_owned(), "Z".repeat(128), long]
}

/// Whether `name` matches `^([0-9a-zA-Z][-]?){1,max}$` (AgentCore gateway and target names).
fn alnum_hyphen_units(name: &str, max: usize) -> bool {
    let units = name.chars().filter(char::is_ascii_alphanumeric).count();
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && (1..=max).contains(&units)
}

/// The name constraints of CloudFormation's resource schemas (cfn-lint 1.58) per namespace.
fn name_fits(namespace: &str, name: &str) -> bool {
    let within = |max: usize, allowed: &dyn Fn(char) -> bool| {
        (1..=max).contains(&name.chars().count()) && name.chars().all(allowed)
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match namespace {
        // FunctionName: the name form, [a-zA-Z0-9-_]+, at most 64.
        "Lambda function" => within(64, &|c| word(c) || c == '-'),
        "log group" => within(512, &|c| word(c) || ".-/#".contains(c)),
        // Name: ^([0-9a-zA-Z][-]?){1,48}$.
        "gateway" => alnum_hyphen_units(name, 48),
        // GatewayIdentifier/Name: the name part, ^([0-9a-zA-Z][-]?){1,100}$.
        "gateway target" => alnum_hyphen_units(name.rsplit('/').next().unwrap_or_default(), 100),
        "credential provider" => within(128, &|c| word(c) || c == '-'),
        // UserPoolName: 1 to 128 of [\w\s+=,.@-] (Cognito's PoolName).
        "user pool" => within(128, &|c| word(c) || c.is_whitespace() || "+=,.@-".contains(c)),
        "inline policy" => {
            let policy = name.rsplit('/').next().unwrap_or_default();
            (1..=128).contains(&policy.len()) && policy.chars().all(|c| word(c) || "+=,.@-".contains(c))
        }
        _ => true,
    }
}

#[test]
fn no_two_resources_ever_share_a_physical_name() {
    let template = parse_yaml(&read("template.yaml"));
    let combinations = every_combination(&template);
    assert!(combinations.len() >= 1024, "only {} combinations of conditions", combinations.len());
    // Across every combination, not only within one: an update that switches a condition creates
    // the new resources before it deletes the old ones.
    let mut owners: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for values in &combinations {
        let deployment = Deployment::new(&template, values, "my-stack");
        let mut seen = BTreeMap::new();
        for (name, id) in physical_names(&deployment, &template) {
            if let Some(other) = seen.insert(name.clone(), id.clone()) {
                assert_eq!(other, id, "{other} and {id} are both named {name:?} with {values:?}");
            }
            owners.entry(name).or_default().insert(id);
        }
    }
    assert_none(
        "resources that share a physical name under some combination of conditions (an update that switches between them fails: \"already exists\")",
        owners
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|((namespace, name), ids)| format!("{namespace} {name}: {ids:?}")),
    );
}

#[test]
fn physical_names_fit_their_patterns_for_any_stack_name() {
    let template = parse_yaml(&read("template.yaml"));
    let mut problems = BTreeSet::new();
    let mut checked = BTreeSet::new();
    // Every stack name with the defaults, and every combination of conditions with the longest
    // one (128 characters, with "--"): a name is the stack name's text in a fixed frame.
    let names = stack_names();
    let longest = names.iter().max_by_key(|n| (n.len(), n.contains("--"))).expect("stack names").clone();
    let runs = names
        .into_iter()
        .map(|stack| (stack, BTreeMap::new()))
        .chain(every_combination(&template).into_iter().map(|values| (longest.clone(), values)));
    for (stack, values) in runs {
        let deployment = Deployment::new(&template, &values, &stack);
        for ((namespace, name), id) in physical_names(&deployment, &template) {
            checked.insert(namespace.clone());
            if !name_fits(&namespace, &name) {
                problems.insert(format!("{id} ({namespace}) with stack name {stack:?}: {name:?}"));
            }
        }
    }
    for namespace in ["Lambda function", "gateway", "credential provider", "inline policy", "user pool"] {
        assert!(checked.contains(namespace), "no {namespace} name was checked");
    }
    assert_none("names outside their CloudFormation patterns", problems);
}

#[test]
fn the_name_checks_reject_what_aws_rejects() {
    assert!(alnum_hyphen_units("obo-c0ffee00-1234", 48));
    assert!(!alnum_hyphen_units("a--b", 48));
    assert!(!alnum_hyphen_units("-a", 48));
    assert!(!alnum_hyphen_units(&"a".repeat(49), 48));
    assert!(name_fits("Lambda function", &"f".repeat(64)));
    assert!(!name_fits("Lambda function", &"f".repeat(65)));
    assert!(!name_fits("credential provider", "a.b"));
    assert!(!name_fits("inline policy", &format!("<Role>/{}", "p".repeat(129))));
}

#[test]
fn the_user_pool_triggers_the_function_that_exists() {
    let template = parse_yaml(&read("template.yaml"));
    for values in every_combination(&template) {
        let deployment = Deployment::new(&template, &values, "my-stack");
        if !deployment.exists("UserPool") {
            continue;
        }
        let config =
            &template["Resources"]["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"];
        let arn = deployment.string(&config["LambdaArn"]).expect("LambdaArn");
        let functions: Vec<String> = ["PreTokenFunction", "PreTokenLookupFunction"]
            .into_iter()
            .filter(|id| deployment.exists(id))
            .map(|id| {
                deployment.string(&template["Resources"][id]["Properties"]["FunctionName"]).expect("name")
            })
            .collect();
        assert_eq!(functions.len(), 1, "exactly one trigger function with {values:?}");
        assert!(arn.ends_with(&format!(":function:{}", functions[0])), "{arn} with {values:?}");
    }
}

/// Every resource `from` waits for, directly or through others.
fn waits_for(deployment: &Deployment, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(id) = todo.pop() {
        for dependency in deployment.dependencies(&id) {
            if seen.insert(dependency.clone()) {
                todo.push(dependency);
            }
        }
    }
    seen
}

#[test]
fn dependencies_exist_and_order_the_first_deploy() {
    let template = parse_yaml(&read("template.yaml"));
    for values in every_combination(&template) {
        let deployment = Deployment::new(&template, &values, "my-stack");
        for id in deployment.resources() {
            for dependency in deployment.dependencies(id) {
                assert!(
                    deployment.exists(&dependency),
                    "{id} depends on {dependency}, absent with {values:?}"
                );
            }
        }
        if !deployment.exists("GatewayTarget") {
            continue;
        }
        // Creating the target lists its tools with the tool-sync token: the role's grant, the
        // credential provider and (a new pool) the token endpoint's domain come first.
        let target = waits_for(&deployment, "GatewayTarget");
        let provider = waits_for(&deployment, "ToolSyncCredentialProvider");
        for needed in ["GatewayTargetCredentialPolicy", "ToolSyncCredentialProvider"] {
            assert!(target.contains(needed), "GatewayTarget before {needed} with {values:?}");
        }
        if deployment.exists("UserPoolDomain") {
            assert!(target.contains("UserPoolDomain"), "GatewayTarget before UserPoolDomain with {values:?}");
            assert!(provider.contains("UserPoolDomain"), "credential provider before UserPoolDomain");
        }
    }
}

#[test]
fn response_interception_is_off_by_default() {
    let template = parse_yaml(&read("template.yaml"));
    let deployment = Deployment::new(&template, &BTreeMap::new(), "my-stack");
    let interceptors = &template["Resources"]["Gateway"]["Properties"]["InterceptorConfigurations"];
    let points = deployment.list(&interceptors[0]["InterceptionPoints"]);
    assert_eq!(points, ["REQUEST"], "the default gateway intercepts requests only");
    let on = BTreeMap::from([("GatewayResponseInterceptor".to_owned(), "true".to_owned())]);
    let deployment = Deployment::new(&template, &on, "my-stack");
    assert_eq!(deployment.list(&interceptors[0]["InterceptionPoints"]), ["REQUEST", "RESPONSE"]);
}

#[test]
fn every_parameter_is_in_exactly_one_group_with_a_label() {
    let template = parse_yaml(&read("template.yaml"));
    let interface = &template["Metadata"]["AWS::CloudFormation::Interface"];
    let parameters: BTreeSet<&str> =
        template["Parameters"].as_mapping().expect("Parameters").keys().filter_map(Yaml::as_str).collect();
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let groups = interface["ParameterGroups"].as_sequence().expect("ParameterGroups");
    for group in groups {
        let label = group["Label"]["default"].as_str().expect("group label");
        for name in
            group["Parameters"].as_sequence().expect("group parameters").iter().filter_map(Yaml::as_str)
        {
            grouped.entry(name).or_default().push(label);
        }
    }
    let problems: Vec<String> = parameters
        .iter()
        .filter(|p| grouped.get(*p).is_none_or(|groups| groups.len() != 1))
        .map(|p| format!("{p} is in {:?}", grouped.get(p).cloned().unwrap_or_default()))
        .chain(grouped.keys().filter(|p| !parameters.contains(*p)).map(|p| format!("{p} is no parameter")))
        .chain(
            parameters
                .iter()
                .filter(|p| interface["ParameterLabels"][**p]["default"].as_str().is_none_or(str::is_empty))
                .map(|p| format!("{p} has no label")),
        )
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A first deploy: the parameters without a default are all in the first group, and every
    // parameter outside it has one.
    let first: BTreeSet<&str> =
        groups[0]["Parameters"].as_sequence().unwrap().iter().filter_map(Yaml::as_str).collect();
    for name in parameters {
        let defaulted = !template["Parameters"][name]["Default"].is_null();
        assert!(defaulted || first.contains(name), "{name} has no default but is not among the essentials");
    }
}

#[test]
fn no_inline_lint_suppression() {
    let text = read("template.yaml");
    assert!(!text.contains("ignore_checks"), "template.yaml silences a cfn-lint check inline");
}

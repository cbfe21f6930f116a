//! A small evaluator of template.yaml under one set of parameter values and one stack identity:
//! conditions, and the intrinsic functions the template's names and references use (`Ref`,
//! `Fn::Sub`, `Fn::If`, `Fn::Select`, `Fn::Split`, `Fn::Join`, `Fn::GetAtt`). What only a deploy
//! knows (another resource's id or attribute) evaluates to a placeholder `<LogicalId>` or
//! `<LogicalId.Attribute>`, which is distinct per resource — enough to compare names.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value as Yaml;

/// The pseudo parameters a name may use; the stack's own are per evaluation.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// An intrinsic function call, whichever way the template spells it (`!Sub` or `Fn::Sub:`).
pub fn intrinsic(value: &Yaml) -> Option<(String, &Yaml)> {
    match value {
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            Some((if name == "Ref" { name.to_owned() } else { format!("Fn::{name}") }, &tagged.value))
        }
        Yaml::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key.starts_with("Fn::")).then(|| (key.to_owned(), argument))
        }
        _ => None,
    }
}

/// One deployment to evaluate: parameter values (defaults applied) and the stack's identity.
pub struct Deployment<'t> {
    template: &'t Yaml,
    parameters: BTreeMap<String, String>,
    stack_name: String,
    stack_id: String,
    /// Every condition, evaluated once.
    conditions: BTreeMap<String, bool>,
}

impl<'t> Deployment<'t> {
    /// The template with its parameters' defaults, overridden by `values`.
    pub fn new(template: &'t Yaml, values: &BTreeMap<String, String>, stack_name: &str) -> Self {
        let mut parameters = BTreeMap::new();
        for (name, spec) in template["Parameters"].as_mapping().expect("Parameters") {
            let name = name.as_str().expect("parameter name").to_owned();
            let default = match &spec["Default"] {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                Yaml::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            parameters.insert(name, default);
        }
        for (name, value) in values {
            assert!(parameters.contains_key(name), "no parameter {name}");
            parameters.insert(name.clone(), value.clone());
        }
        let stack_id = format!(
            "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/c0ffee00-1234-4abc-8def-0123456789ab"
        );
        let mut deployment = Self {
            template,
            parameters,
            stack_name: stack_name.to_owned(),
            stack_id,
            conditions: BTreeMap::new(),
        };
        let names = template["Conditions"].as_mapping().expect("Conditions").keys().filter_map(Yaml::as_str);
        deployment.conditions = names.map(|name| (name.to_owned(), deployment.evaluate(name))).collect();
        deployment
    }

    /// Whether the named condition holds.
    pub fn condition(&self, name: &str) -> bool {
        match self.conditions.get(name) {
            Some(holds) => *holds,
            None => self.evaluate(name),
        }
    }

    fn evaluate(&self, name: &str) -> bool {
        let definition = &self.template["Conditions"][name];
        assert!(!definition.is_null(), "no condition {name}");
        self.truth(definition)
    }

    fn truth(&self, value: &Yaml) -> bool {
        let (function, argument) = intrinsic(value).unwrap_or_else(|| panic!("not a condition: {value:?}"));
        let items = argument.as_sequence().map(Vec::as_slice).unwrap_or_default();
        match function.as_str() {
            "Fn::Equals" => self.string(&items[0]) == self.string(&items[1]),
            "Fn::Not" => !self.truth(&items[0]),
            "Fn::And" => items.iter().all(|c| self.truth(c)),
            "Fn::Or" => items.iter().any(|c| self.truth(c)),
            "Fn::Condition" => self.condition(argument.as_str().expect("condition name")),
            other => panic!("condition function {other} is not evaluated here"),
        }
    }

    /// Whether a resource exists in this deployment.
    pub fn exists(&self, logical_id: &str) -> bool {
        let resource = &self.template["Resources"][logical_id];
        !resource.is_null() && resource["Condition"].as_str().is_none_or(|c| self.condition(c))
    }

    /// The logical ids of the resources that exist.
    pub fn resources(&self) -> Vec<&'t str> {
        let resources = self.template["Resources"].as_mapping().expect("Resources");
        resources.keys().filter_map(Yaml::as_str).filter(|id| self.exists(id)).collect()
    }

    /// A value as a string; `None` for `AWS::NoValue`.
    pub fn string(&self, value: &Yaml) -> Option<String> {
        match value {
            Yaml::String(s) => Some(s.clone()),
            Yaml::Number(n) => Some(n.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            _ => {
                let (function, argument) = intrinsic(value)?;
                let items = argument.as_sequence().map(Vec::as_slice).unwrap_or_default();
                match function.as_str() {
                    "Ref" => self.reference(argument.as_str().expect("Ref name")),
                    "Fn::GetAtt" => Some(format!("<{}>", self.attribute(argument))),
                    "Fn::If" => self.string(self.branch(items)),
                    "Fn::Sub" => Some(self.substitute(argument)),
                    "Fn::Select" => {
                        let index: usize = self.string(&items[0])?.parse().expect("Select index");
                        self.list(&items[1]).into_iter().nth(index)
                    }
                    "Fn::Join" => Some(self.list(&items[1]).join(&self.string(&items[0])?)),
                    other => panic!("{other} is not evaluated here"),
                }
            }
        }
    }

    /// A value as a list of strings (`Fn::Split`, a sequence, or `Fn::If` of either).
    pub fn list(&self, value: &Yaml) -> Vec<String> {
        // A tagged value (`!Split [...]`) is checked first: `as_sequence` looks through tags.
        let Some((function, argument)) = intrinsic(value) else {
            let items = value.as_sequence().unwrap_or_else(|| panic!("not a list: {value:?}"));
            return items.iter().filter_map(|item| self.string(item)).collect();
        };
        let items = argument.as_sequence().map(Vec::as_slice).unwrap_or_default();
        match function.as_str() {
            "Fn::Split" => {
                let delimiter = self.string(&items[0]).expect("Split delimiter");
                let whole = self.string(&items[1]).expect("Split source");
                whole.split(delimiter.as_str()).map(str::to_owned).collect()
            }
            "Fn::If" => self.list(self.branch(items)),
            _ => self.string(value).into_iter().collect(),
        }
    }

    /// The chosen branch of an `Fn::If`.
    pub fn branch<'v>(&self, items: &'v [Yaml]) -> &'v Yaml {
        let condition = items[0].as_str().expect("If condition name");
        if self.condition(condition) { &items[1] } else { &items[2] }
    }

    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::StackName" => Some(self.stack_name.clone()),
            "AWS::StackId" => Some(self.stack_id.clone()),
            "AWS::Region" => Some(REGION.to_owned()),
            "AWS::AccountId" => Some(ACCOUNT.to_owned()),
            "AWS::Partition" => Some("aws".to_owned()),
            "AWS::URLSuffix" => Some("amazonaws.com".to_owned()),
            "AWS::NoValue" => None,
            _ => match self.parameters.get(name) {
                Some(value) => Some(value.clone()),
                None => {
                    assert!(self.exists(name), "Ref to {name}, which does not exist here");
                    Some(format!("<{name}>"))
                }
            },
        }
    }

    fn attribute(&self, argument: &Yaml) -> String {
        let path = match argument {
            Yaml::String(s) => s.clone(),
            _ => self.list(argument).join("."),
        };
        let resource = path.split('.').next().unwrap_or_default();
        assert!(self.exists(resource), "GetAtt {path}: {resource} does not exist here");
        path
    }

    fn substitute(&self, argument: &Yaml) -> String {
        let (text, variables) = match argument {
            Yaml::Sequence(items) => (items[0].as_str().expect("Sub text"), items[1].as_mapping()),
            _ => (argument.as_str().expect("Sub text"), None),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closing brace") + start;
            let name = &rest[start + 2..end];
            let local = variables.and_then(|v| v.get(name));
            let value = match local {
                Some(value) => self.string(value).expect("Sub variable"),
                None if name.contains('.') && !name.starts_with("AWS::") => {
                    format!("<{}>", self.attribute(&Yaml::String(name.to_owned())))
                }
                None => self.reference(name).expect("Sub reference"),
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The resources a value refers to (`Ref`, `Fn::GetAtt`, `Fn::Sub`), following only the
    /// `Fn::If` branches this deployment takes.
    pub fn references(&self, value: &Yaml, out: &mut BTreeSet<String>) {
        if let Some((function, argument)) = intrinsic(value) {
            let items = argument.as_sequence().map(Vec::as_slice).unwrap_or_default();
            match function.as_str() {
                "Fn::If" => return self.references(self.branch(items), out),
                "Ref" => {
                    let name = argument.as_str().unwrap_or_default();
                    if !name.starts_with("AWS::") && !self.parameters.contains_key(name) {
                        out.insert(name.to_owned());
                    }
                    return;
                }
                "Fn::GetAtt" => {
                    out.insert(self.attribute(argument).split('.').next().unwrap_or_default().to_owned());
                    return;
                }
                "Fn::Sub" => {
                    let text = items.first().unwrap_or(argument).as_str().unwrap_or_default();
                    for piece in text.split("${").skip(1) {
                        let name = piece.split('}').next().unwrap_or_default();
                        let local = items.get(1).and_then(|v| v.get(name)).is_some();
                        let resource = name.split('.').next().unwrap_or_default();
                        if !local && !name.starts_with("AWS::") && !self.parameters.contains_key(resource) {
                            out.insert(resource.to_owned());
                        }
                    }
                    for item in items.iter().skip(1) {
                        self.references(item, out);
                    }
                    return;
                }
                _ => return self.references(argument, out),
            }
        }
        match value {
            Yaml::Sequence(items) => items.iter().for_each(|item| self.references(item, out)),
            Yaml::Mapping(map) => map.values().for_each(|item| self.references(item, out)),
            Yaml::Tagged(tagged) => self.references(&tagged.value, out),
            _ => {}
        }
    }

    /// What a resource waits for: its `DependsOn` and every resource its properties, metadata or
    /// condition-free references name.
    pub fn dependencies(&self, logical_id: &str) -> BTreeSet<String> {
        let resource = &self.template["Resources"][logical_id];
        let mut out = BTreeSet::new();
        match &resource["DependsOn"] {
            Yaml::String(one) => {
                out.insert(one.clone());
            }
            Yaml::Sequence(many) => out.extend(many.iter().filter_map(Yaml::as_str).map(str::to_owned)),
            _ => {}
        }
        self.references(&resource["Properties"], &mut out);
        self.references(&resource["Metadata"], &mut out);
        out
    }
}

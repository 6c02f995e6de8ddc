//! The address space of the contract (`Objects/Machines/<station name>/…`) and the node
//! manager that serves it: values set as the station reports them, `ActiveAlarmText` and
//! alarm events worded in each session's locale, the methods checked against the
//! permission table and the REMOTE switch, and audited.
//!
//! The OPC 40001-1 browse names are built in our own namespace (no DI/Machinery
//! NodeSet2 import): `Machines`, `Identification`, `MachineryItemState`,
//! `MachineryOperationMode` with `CurrentState` as a LocalizedText, as the Machinery
//! specification names them.

use crate::port::{MachineMethod, MachineView, OpcuaAction, OpcuaAudit, SignedIn, Station};
use crate::{MAX_DOCUMENT_BYTES, NAMESPACE_URI};
use bonder_core::permissions::Permission;
use bonder_core::state::MachineState;
use opcua::server::SubscriptionCache;
use opcua::server::address_space::{
    AccessLevel, AddressSpace, EventNotifier, MethodBuilder, ObjectBuilder, VariableBuilder,
};
use opcua::server::node_manager::memory::{InMemoryNodeManager, InMemoryNodeManagerImpl};
use opcua::server::node_manager::{
    MethodCall, MonitoredItemRef, ParsedReadValueId, RequestContext, ServerContext,
};
use opcua::server::{CreateMonitoredItem, MonitoredItemHandle};
use opcua::sync::RwLock;
use opcua::types::{
    AttributeId, ByteString, DataTypeId, DataValue, DateTime, LocalizedText, NodeId, ObjectId,
    ObjectTypeId, QualifiedName, StatusCode, TimestampsToReturn, UAString, VariableTypeId, Variant,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The locales the server words texts in.
pub const LOCALES: [&str; 2] = ["en-US", "zh-CN"];

/// The first of the client's locale ids we speak (`zh*` → zh-CN, `en*` → en-US), English
/// otherwise.
pub fn pick_locale(ids: &[UAString]) -> &'static str {
    for id in ids {
        let id = id.as_ref().to_ascii_lowercase();
        if id.starts_with("zh") {
            return "zh-CN";
        }
        if id.starts_with("en") {
            return "en-US";
        }
    }
    "en-US"
}

/// `(MachineryItemState, MachineryOperationMode)` of the contract's mapping.
pub fn machinery_states(state: Option<MachineState>) -> (&'static str, &'static str) {
    match state {
        Some(MachineState::Running) => ("Executing", "Processing"),
        Some(MachineState::Idle | MachineState::Paused) => ("NotExecuting", "Processing"),
        Some(MachineState::Setup) => ("NotExecuting", "Setup"),
        Some(MachineState::Alarm | MachineState::EStop) => ("OutOfService", "None"),
        None => ("NotAvailable", "None"),
    }
}

/// The node ids (string ids, stable across restarts: `<name>.Bonder.WiresBonded`).
#[derive(Debug, Clone)]
pub struct Ids {
    pub ns: u16,
    pub station: NodeId,
    pub bonder: NodeId,
    pub item_state: NodeId,
    pub operation_mode: NodeId,
    pub alarm_text: NodeId,
    by_name: HashMap<&'static str, NodeId>,
    methods: HashMap<NodeId, Method>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Machine(MachineMethod),
    SubmitRecipe,
}

impl Ids {
    fn new(ns: u16, name: &str) -> Ids {
        let id = |path: &str| NodeId::new(ns, format!("{name}.{path}"));
        let mut methods = HashMap::new();
        for m in MachineMethod::ALL {
            methods.insert(id(&format!("Bonder.{}", m.name())), Method::Machine(m));
        }
        methods.insert(id("Bonder.SubmitRecipe"), Method::SubmitRecipe);
        Ids {
            ns,
            station: NodeId::new(ns, name.to_string()),
            bonder: id("Bonder"),
            item_state: id("MachineryItemState.CurrentState"),
            operation_mode: id("MachineryOperationMode.CurrentState"),
            alarm_text: id("Bonder.ActiveAlarmText"),
            by_name: HashMap::new(),
            methods,
        }
    }

    /// A `Bonder` variable (or `LastBond.<x>`) by browse name.
    pub fn var(&self, name: &str) -> Option<&NodeId> {
        self.by_name.get(name)
    }
}

/// One `Bonder` variable: browse name, type, initial value.
const BONDER_VARS: [(&str, DataTypeId); 12] = [
    ("State", DataTypeId::String),
    ("Recipe", DataTypeId::String),
    ("WiresBonded", DataTypeId::UInt32),
    ("BondsRejected", DataTypeId::UInt32),
    ("YieldPct", DataTypeId::Double),
    ("WireRatePerMin", DataTypeId::UInt32),
    ("CapillaryTouchdowns", DataTypeId::UInt32),
    ("HeaterTempC", DataTypeId::Double),
    ("Operator", DataTypeId::String),
    ("WorkOrder", DataTypeId::String),
    ("ActiveAlarm", DataTypeId::UInt32),
    ("ActiveAlarmText", DataTypeId::LocalizedText),
];

const LAST_BOND_VARS: [(&str, DataTypeId); 9] = [
    ("Seq", DataTypeId::UInt64),
    ("Kind", DataTypeId::String),
    ("Verdict", DataTypeId::String),
    ("BallDiameterUm", DataTypeId::Double),
    ("PlacementDxUm", DataTypeId::Double),
    ("PlacementDyUm", DataTypeId::Double),
    ("PeakForceGf", DataTypeId::Double),
    ("UsEnergyMj", DataTypeId::Double),
    ("DeformUm", DataTypeId::Double),
];

fn initial(t: DataTypeId) -> Variant {
    match t {
        DataTypeId::String => Variant::from(""),
        DataTypeId::UInt32 => Variant::from(0u32),
        DataTypeId::UInt64 => Variant::from(0u64),
        DataTypeId::Double => Variant::from(0.0f64),
        DataTypeId::LocalizedText => Variant::from(LocalizedText::new("en-US", "")),
        _ => Variant::Empty,
    }
}

/// What the station is called and what it says about itself.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub station_id: String,
    pub manufacturer: String,
    pub product_instance_uri: String,
    pub software_revision: String,
}

/// Builds the contract's nodes into `space`; returns their ids.
fn build(space: &mut AddressSpace, ns: u16, ident: &Identity) -> Ids {
    let mut ids = Ids::new(ns, &ident.name);
    let n = &ident.name;
    let id = |path: &str| NodeId::new(ns, format!("{n}.{path}"));
    let machines = NodeId::new(ns, "Machines");
    ObjectBuilder::new(&machines, QualifiedName::new(ns, "Machines"), "Machines")
        .organized_by(ObjectId::ObjectsFolder)
        .has_type_definition(ObjectTypeId::FolderType)
        .insert(space);
    ObjectBuilder::new(&ids.station, QualifiedName::new(ns, n.as_str()), n.as_str())
        .organized_by(machines)
        .has_type_definition(ObjectTypeId::BaseObjectType)
        .event_notifier(EventNotifier::SUBSCRIBE_TO_EVENTS)
        .insert(space);
    // Identification.
    let ident_id = id("Identification");
    ObjectBuilder::new(
        &ident_id,
        QualifiedName::new(ns, "Identification"),
        "Identification",
    )
    .component_of(ids.station.clone())
    .has_type_definition(ObjectTypeId::BaseObjectType)
    .insert(space);
    for (name, value) in [
        ("Manufacturer", ident.manufacturer.as_str()),
        ("Model", "WB-HMI"),
        ("SerialNumber", ident.station_id.as_str()),
        ("ProductInstanceUri", ident.product_instance_uri.as_str()),
        ("SoftwareRevision", ident.software_revision.as_str()),
    ] {
        let v = id(&format!("Identification.{name}"));
        let value = if name == "Manufacturer" || name == "Model" {
            Variant::from(LocalizedText::new("", value))
        } else {
            Variant::from(value)
        };
        let dt = if matches!(value, Variant::LocalizedText(_)) {
            DataTypeId::LocalizedText
        } else {
            DataTypeId::String
        };
        VariableBuilder::new(&v, QualifiedName::new(ns, name), name)
            .property_of(ident_id.clone())
            .has_type_definition(VariableTypeId::PropertyType)
            .data_type(dt)
            .value(value)
            .insert(space);
    }
    // The two state machines.
    for (obj, var) in [
        ("MachineryItemState", &ids.item_state),
        ("MachineryOperationMode", &ids.operation_mode),
    ] {
        let o = id(obj);
        ObjectBuilder::new(&o, QualifiedName::new(ns, obj), obj)
            .component_of(ids.station.clone())
            .has_type_definition(ObjectTypeId::BaseObjectType)
            .insert(space);
        let (item, mode) = machinery_states(None);
        let text = if obj == "MachineryItemState" {
            item
        } else {
            mode
        };
        VariableBuilder::new(var, QualifiedName::new(ns, "CurrentState"), "CurrentState")
            .component_of(o)
            .has_type_definition(VariableTypeId::BaseDataVariableType)
            .data_type(DataTypeId::LocalizedText)
            .value(LocalizedText::new("en-US", text))
            .insert(space);
    }
    // Bonder.
    ObjectBuilder::new(&ids.bonder, QualifiedName::new(ns, "Bonder"), "Bonder")
        .component_of(ids.station.clone())
        .has_type_definition(ObjectTypeId::BaseObjectType)
        .insert(space);
    for (name, dt) in BONDER_VARS {
        let v = id(&format!("Bonder.{name}"));
        let value = if name == "State" {
            Variant::from("offline")
        } else {
            initial(dt)
        };
        VariableBuilder::new(&v, QualifiedName::new(ns, name), name)
            .component_of(ids.bonder.clone())
            .has_type_definition(VariableTypeId::BaseDataVariableType)
            .data_type(dt)
            .value(value)
            .access_level(AccessLevel::CURRENT_READ)
            .user_access_level(AccessLevel::CURRENT_READ)
            .insert(space);
        ids.by_name.insert(name, v);
    }
    let last = id("Bonder.LastBond");
    ObjectBuilder::new(&last, QualifiedName::new(ns, "LastBond"), "LastBond")
        .component_of(ids.bonder.clone())
        .has_type_definition(ObjectTypeId::BaseObjectType)
        .insert(space);
    for (name, dt) in LAST_BOND_VARS {
        let v = id(&format!("Bonder.LastBond.{name}"));
        VariableBuilder::new(&v, QualifiedName::new(ns, name), name)
            .component_of(last.clone())
            .has_type_definition(VariableTypeId::BaseDataVariableType)
            .data_type(dt)
            .value(initial(dt))
            .access_level(AccessLevel::CURRENT_READ)
            .user_access_level(AccessLevel::CURRENT_READ)
            .insert(space);
        ids.by_name.insert(name, v);
    }
    // Methods.
    for m in MachineMethod::ALL {
        let mid = id(&format!("Bonder.{}", m.name()));
        MethodBuilder::new(&mid, QualifiedName::new(ns, m.name()), m.name())
            .component_of(ids.bonder.clone())
            .executable(true)
            .user_executable(true)
            .insert(space);
    }
    let submit = id("Bonder.SubmitRecipe");
    MethodBuilder::new(
        &submit,
        QualifiedName::new(ns, "SubmitRecipe"),
        "SubmitRecipe",
    )
    .component_of(ids.bonder.clone())
    .executable(true)
    .user_executable(true)
    .input_args(
        space,
        &id("Bonder.SubmitRecipe.InputArguments"),
        &[("Document", DataTypeId::String).into()],
    )
    .output_args(
        space,
        &id("Bonder.SubmitRecipe.OutputArguments"),
        &[
            ("Ok", DataTypeId::Boolean).into(),
            ("Error", DataTypeId::String).into(),
        ],
    )
    .insert(space);
    ids
}

/// The users signed in through the authenticator, by user token (badge).
pub(crate) type Users = Arc<Mutex<HashMap<String, SignedIn>>>;

/// The node manager's own part.
pub struct BonderNodes<S: Station> {
    station: Arc<S>,
    ids: Ids,
    users: Users,
    /// The locale of every subscription that monitors one of our nodes.
    locales: Mutex<HashMap<u32, &'static str>>,
    /// The alarm `ActiveAlarmText` names now.
    alarm: Mutex<u32>,
    event_seq: std::sync::atomic::AtomicU64,
    name: String,
}

impl<S: Station> std::fmt::Debug for BonderNodes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BonderNodes")
            .field("station", &self.name)
            .finish_non_exhaustive()
    }
}

/// The node manager as async-opcua runs it.
pub type BonderManager<S> = InMemoryNodeManager<BonderNodes<S>>;

impl<S: Station> BonderNodes<S> {
    pub(crate) fn new(
        context: &ServerContext,
        space: &mut AddressSpace,
        station: Arc<S>,
        users: Users,
        ident: &Identity,
    ) -> BonderNodes<S> {
        let ns = {
            let mut tt = context.type_tree.write();
            tt.namespaces_mut().add_namespace(NAMESPACE_URI)
        };
        space.add_namespace(NAMESPACE_URI, ns);
        let ids = build(space, ns, ident);
        BonderNodes {
            station,
            ids,
            users,
            locales: Mutex::new(HashMap::new()),
            alarm: Mutex::new(0),
            event_seq: std::sync::atomic::AtomicU64::new(0),
            name: ident.name.clone(),
        }
    }

    pub fn ids(&self) -> &Ids {
        &self.ids
    }

    fn alarm_text(&self, code: u32, locale: &str) -> LocalizedText {
        let text = if code == 0 {
            String::new()
        } else {
            self.station.alarm_text(code, locale)
        };
        LocalizedText::new(locale, &text)
    }

    fn locale_of(&self, subscription: u32) -> &'static str {
        self.locales
            .lock()
            .ok()
            .and_then(|l| l.get(&subscription).copied())
            .unwrap_or("en-US")
    }

    /// Sets `ActiveAlarmText` and tells every monitored item in its own locale.
    pub(crate) fn set_alarm_text(
        &self,
        space: &RwLock<AddressSpace>,
        subs: &SubscriptionCache,
        code: u32,
    ) {
        {
            let Ok(mut a) = self.alarm.lock() else { return };
            if *a == code {
                return;
            }
            *a = code;
        }
        let now = DateTime::now();
        if let Some(opcua::server::address_space::NodeType::Variable(v)) =
            space.write().find_mut(&self.ids.alarm_text)
        {
            v.set_data_value(DataValue::new_at(self.alarm_text(code, "en-US"), now));
        }
        let texts: HashMap<&str, LocalizedText> = LOCALES
            .iter()
            .map(|l| (*l, self.alarm_text(code, l)))
            .collect();
        let mut notifier = subs.data_notifier();
        if let Some(mut batch) = notifier.notify_for(&self.ids.alarm_text, AttributeId::Value) {
            let handles: Vec<MonitoredItemHandle> = batch.entries().map(|(h, _)| *h).collect();
            for h in handles {
                let l = self.locale_of(h.subscription_id);
                let text = texts.get(l).cloned().unwrap_or_default();
                batch.data_value_to_item(DataValue::new_at(text, now), &h);
            }
        }
    }

    /// An alarm raised or cleared, as a BaseEventType event on the station object, its
    /// Message in each subscriber's locale.
    pub(crate) fn alarm_event(&self, subs: &SubscriptionCache, code: u32, raised: bool) {
        use opcua::nodes::BaseEventType;
        let now = DateTime::now();
        let seq = self
            .event_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let events: Vec<(&str, BaseEventType)> = LOCALES
            .iter()
            .map(|l| {
                let text = self.station.alarm_text(code, l);
                let msg = match (raised, *l) {
                    (true, "zh-CN") => format!("报警 {code}：{text}"),
                    (false, "zh-CN") => format!("报警 {code} 已清除：{text}"),
                    (true, _) => format!("Alarm {code}: {text}"),
                    (false, _) => format!("Alarm {code} cleared: {text}"),
                };
                let mut id = Vec::with_capacity(16);
                id.extend_from_slice(&now.ticks().to_be_bytes());
                id.extend_from_slice(&seq.to_be_bytes());
                let ev = BaseEventType::new(
                    ObjectTypeId::BaseEventType,
                    ByteString::from(id),
                    LocalizedText::new(l, &msg),
                    now,
                )
                .set_source_node(self.ids.station.clone())
                .set_source_name(UAString::from(self.name.as_str()))
                .set_severity(800);
                (*l, ev)
            })
            .collect();
        let mut notifier = subs.event_notifier();
        if let Some(mut batch) = notifier.notify_for(&self.ids.station) {
            let handles: Vec<MonitoredItemHandle> = batch.entries().copied().collect();
            for h in handles {
                let l = self.locale_of(h.subscription_id);
                if let Some((_, ev)) = events.iter().find(|(el, _)| *el == l) {
                    batch.event_to_item(ev, &h);
                }
            }
        }
    }

    fn remember_locale(&self, context: &RequestContext, subscriptions: &[u32]) {
        let locale = pick_locale(context.session.read().locale_ids());
        if let Ok(mut l) = self.locales.lock() {
            for s in subscriptions {
                l.insert(*s, locale);
            }
        }
    }

    fn caller(&self, context: &RequestContext) -> (Option<SignedIn>, String) {
        let client = context
            .session
            .read()
            .application_description()
            .application_uri
            .as_ref()
            .to_string();
        let user = if context.token.is_anonymous() {
            None
        } else {
            self.users
                .lock()
                .ok()
                .and_then(|u| u.get(&context.token.0).cloned())
        };
        (user, client)
    }

    fn audit(
        &self,
        user: &Option<SignedIn>,
        client: &str,
        action: OpcuaAction,
        object: String,
        detail: String,
    ) {
        self.station.audit(OpcuaAudit {
            user: user
                .as_ref()
                .map_or_else(|| "anonymous".to_string(), |u| u.badge.clone()),
            role: user.as_ref().map(|u| u.role),
            action,
            object,
            client: client.to_string(),
            detail,
        });
    }

    async fn call_one(&self, context: &RequestContext, call: &mut MethodCall) {
        let Some(method) = self.ids.methods.get(call.method_id()).copied() else {
            call.set_status(StatusCode::BadMethodInvalid);
            return;
        };
        let (user, client) = self.caller(context);
        let (object, permission) = match method {
            Method::Machine(m) => (
                format!("opcua:method:{}", m.name()),
                Permission::RunMachineRemotely,
            ),
            Method::SubmitRecipe => ("opcua:method:SubmitRecipe".into(), Permission::EditRecipe),
        };
        let allowed = user
            .as_ref()
            .is_some_and(|u| u.role.is_person() && permission.allows(u.role));
        if !allowed {
            let who = user
                .as_ref()
                .map_or("anonymous".into(), |u| u.role.to_string());
            self.audit(
                &user,
                &client,
                OpcuaAction::Refused,
                object,
                format!("BadUserAccessDenied: a {who} may not {permission}"),
            );
            call.set_status(StatusCode::BadUserAccessDenied);
            return;
        }
        let Some(user) = user else { return };
        let user_opt = Some(user.clone());
        match method {
            Method::Machine(m) => {
                if !self.station.is_remote() {
                    self.audit(
                        &user_opt,
                        &client,
                        OpcuaAction::Refused,
                        object,
                        "BadInvalidState: the station is LOCAL".into(),
                    );
                    call.set_status(StatusCode::BadInvalidState);
                    return;
                }
                match self.station.run(m).await {
                    Ok(()) => {
                        self.audit(
                            &user_opt,
                            &client,
                            OpcuaAction::Command,
                            object,
                            String::new(),
                        );
                        call.set_outputs(Vec::new());
                        call.set_status(StatusCode::Good);
                    }
                    Err(why) => {
                        self.audit(
                            &user_opt,
                            &client,
                            OpcuaAction::Refused,
                            object,
                            format!("BadInvalidState: {why}"),
                        );
                        call.set_status(StatusCode::BadInvalidState);
                    }
                }
            }
            Method::SubmitRecipe => {
                let doc = match call.arguments().first() {
                    Some(Variant::String(s)) => s.as_ref().to_string(),
                    _ => {
                        call.set_status(StatusCode::BadInvalidArgument);
                        return;
                    }
                };
                let result = if doc.len() > MAX_DOCUMENT_BYTES {
                    Err(format!(
                        "the document is {} bytes, more than {MAX_DOCUMENT_BYTES} / 文档过大",
                        doc.len()
                    ))
                } else {
                    self.station.submit_recipe(&user, &doc).await
                };
                match result {
                    Ok(id) => {
                        self.audit(
                            &user_opt,
                            &client,
                            OpcuaAction::Create,
                            format!("recipe:{id}"),
                            "draft from OPC UA SubmitRecipe".into(),
                        );
                        call.set_outputs(vec![Variant::from(true), Variant::from("")]);
                    }
                    Err(e) => {
                        self.audit(
                            &user_opt,
                            &client,
                            OpcuaAction::Refused,
                            object,
                            format!("document refused: {e}"),
                        );
                        call.set_outputs(vec![Variant::from(false), Variant::from(e.as_str())]);
                    }
                }
                call.set_status(StatusCode::Good);
            }
        }
    }
}

#[async_trait::async_trait]
impl<S: Station> InMemoryNodeManagerImpl for BonderNodes<S> {
    async fn init(&self, _space: &mut AddressSpace, _context: ServerContext) {}

    fn name(&self) -> &str {
        "bonder"
    }

    fn namespaces(&self) -> Vec<opcua::server::diagnostics::NamespaceMetadata> {
        vec![opcua::server::diagnostics::NamespaceMetadata {
            namespace_uri: NAMESPACE_URI.to_string(),
            namespace_index: self.ids.ns,
            ..Default::default()
        }]
    }

    async fn read_values(
        &self,
        context: &RequestContext,
        space: &RwLock<AddressSpace>,
        nodes: &[&ParsedReadValueId],
        max_age: f64,
        timestamps: TimestampsToReturn,
    ) -> Vec<DataValue> {
        let locale = pick_locale(context.session.read().locale_ids());
        let code = self.alarm.lock().map_or(0, |a| *a);
        let space = space.read();
        nodes
            .iter()
            .map(|n| {
                let mut dv = space.read(context, n, max_age, timestamps);
                if n.node_id == self.ids.alarm_text && dv.status().is_good() {
                    dv.value = Some(Variant::from(self.alarm_text(code, locale)));
                }
                dv
            })
            .collect()
    }

    async fn create_value_monitored_items(
        &self,
        context: &RequestContext,
        space: &RwLock<AddressSpace>,
        items: &mut [&mut &mut CreateMonitoredItem],
    ) {
        let subs: Vec<u32> = items.iter().map(|i| i.handle().subscription_id).collect();
        self.remember_locale(context, &subs);
        let to_read: Vec<_> = items.iter().map(|r| r.item_to_monitor()).collect();
        let values = self
            .read_values(context, space, &to_read, 0.0, TimestampsToReturn::Both)
            .await;
        for (value, node) in values.into_iter().zip(items.iter_mut()) {
            if value.status() != StatusCode::BadAttributeIdInvalid {
                node.set_initial_value(value);
            }
            node.set_status(StatusCode::Good);
        }
    }

    async fn create_event_monitored_items(
        &self,
        context: &RequestContext,
        _space: &RwLock<AddressSpace>,
        items: &mut [&mut &mut CreateMonitoredItem],
    ) {
        let subs: Vec<u32> = items.iter().map(|i| i.handle().subscription_id).collect();
        self.remember_locale(context, &subs);
    }

    async fn delete_monitored_items(
        &self,
        _context: &RequestContext,
        _items: &[&MonitoredItemRef],
    ) {
    }

    async fn call(
        &self,
        context: &RequestContext,
        _space: &RwLock<AddressSpace>,
        methods: &mut [&mut &mut MethodCall],
    ) -> Result<(), StatusCode> {
        for m in methods.iter_mut() {
            self.call_one(context, m).await;
        }
        Ok(())
    }
}

/// The values of `view` that differ from `old` (all of them when `old` is `None`), as
/// (browse name, value).
pub(crate) fn changed(old: Option<&MachineView>, v: &MachineView) -> Vec<(&'static str, Variant)> {
    let state = v.state.map_or("offline", |s| s.name());
    let all: [(&str, Variant); 11] = [
        ("State", Variant::from(state)),
        ("Recipe", Variant::from(v.recipe.as_str())),
        ("WiresBonded", Variant::from(v.wires_bonded)),
        ("BondsRejected", Variant::from(v.bonds_rejected)),
        ("YieldPct", Variant::from(v.yield_pct)),
        ("WireRatePerMin", Variant::from(v.wire_rate_per_min)),
        ("CapillaryTouchdowns", Variant::from(v.capillary_touchdowns)),
        ("HeaterTempC", Variant::from(v.heater_temp_c)),
        ("Operator", Variant::from(v.operator.as_str())),
        ("WorkOrder", Variant::from(v.work_order.as_str())),
        ("ActiveAlarm", Variant::from(v.active_alarm)),
    ];
    let Some(old) = old else {
        return all.into_iter().collect();
    };
    let before = changed(None, old);
    all.into_iter()
        .zip(before)
        .filter(|((_, a), (_, b))| a != b)
        .map(|(a, _)| a)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_state_mapping() {
        use MachineState::*;
        assert_eq!(machinery_states(Some(Running)), ("Executing", "Processing"));
        assert_eq!(machinery_states(Some(Idle)), ("NotExecuting", "Processing"));
        assert_eq!(
            machinery_states(Some(Paused)),
            ("NotExecuting", "Processing")
        );
        assert_eq!(machinery_states(Some(Setup)), ("NotExecuting", "Setup"));
        assert_eq!(machinery_states(Some(Alarm)), ("OutOfService", "None"));
        assert_eq!(machinery_states(Some(EStop)), ("OutOfService", "None"));
        assert_eq!(machinery_states(None), ("NotAvailable", "None"));
    }

    #[test]
    fn locales_are_picked_from_the_clients_list() {
        let ids = |v: &[&str]| v.iter().map(|s| UAString::from(*s)).collect::<Vec<_>>();
        assert_eq!(pick_locale(&ids(&["zh-CN"])), "zh-CN");
        assert_eq!(pick_locale(&ids(&["de-DE", "zh"])), "zh-CN");
        assert_eq!(pick_locale(&ids(&["en-GB"])), "en-US");
        assert_eq!(pick_locale(&ids(&["fr"])), "en-US");
        assert_eq!(pick_locale(&[]), "en-US");
    }

    #[test]
    fn only_changed_values_are_sent() {
        let a = MachineView::default();
        assert_eq!(changed(None, &a).len(), 11);
        let mut b = a.clone();
        b.wires_bonded = 5;
        b.state = Some(MachineState::Running);
        let c = changed(Some(&a), &b);
        assert_eq!(
            c,
            vec![
                ("State", Variant::from("running")),
                ("WiresBonded", Variant::from(5u32))
            ]
        );
        assert!(changed(Some(&b), &b).is_empty());
    }
}

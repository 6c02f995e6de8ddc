//! The wizard's steps on [`ChangeoverService`]: each checks it is at its step, does its
//! work against the controller or the store, and completes (persisted) or refuses.

use super::*;

impl ChangeoverService {
    /// Step 1 done: the target and its diff were seen.
    pub async fn confirm_select(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Select)?.view.target.id()
            };
            self.complete(Step::Select, by, format!("target {target}"), |_| {})
                .await
        }
        .await;
        self.run(r).await
    }

    /// Step 2: stop the machine and enter setup; the operator confirms the last strip
    /// is out.
    pub async fn setup(&self, by: &str, strip_out: bool) -> Result<View, ChangeoverError> {
        let r = async {
            {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Setup)?;
            }
            if !strip_out {
                return Err(ChangeoverError::StripNotConfirmed);
            }
            if self.station.snapshot().machine_state != Some(MachineState::Setup) {
                self.tolerant(Command::Stop).await?;
                self.tolerant(Command::EnterSetup).await?;
            }
            self.wait_state(MachineState::Setup, Duration::from_secs(5))
                .await?;
            self.complete(
                Step::Setup,
                by,
                "machine in setup, last strip out".into(),
                |v| {
                    v.strip_out = true;
                },
            )
            .await
        }
        .await;
        self.run(r).await
    }

    async fn tolerant(&self, cmd: Command) -> Result<(), ChangeoverError> {
        match self.station.command(cmd).await {
            Ok(()) => Ok(()),
            Err(CommandError::Refused(bonder_core::state::CommandRefusal::WrongState)) => Ok(()),
            Err(e) => Err(command_error(e)),
        }
    }

    async fn wait_state(
        &self,
        want: MachineState,
        within: Duration,
    ) -> Result<(), ChangeoverError> {
        let mut rx = self.station.watch();
        let ok = tokio::time::timeout(within, async {
            loop {
                if rx.borrow_and_update().machine_state == Some(want) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if ok.is_err() || self.station.snapshot().machine_state != Some(want) {
            return Err(ChangeoverError::Controller(format!(
                "machine not in state {want:?} (is {:?})",
                self.station.snapshot().machine_state
            )));
        }
        Ok(())
    }

    /// Step 3: a scanned label. A refused label changes nothing and is shown.
    pub async fn scan(&self, material: Material, label: &str) -> Result<ScanOk, ChangeoverError> {
        let r = async {
            let mut guard = self.open.lock().await;
            Self::expect(&guard, Step::Materials)?;
            let open = guard.as_mut().ok_or(ChangeoverError::NotOpen)?;
            let target = open.view.target.clone();
            let ok = open.view.changeover.scan(material, label, &target)?.clone();
            self.persist(&mut guard, None).await?;
            Ok(ok)
        }
        .await;
        self.run(r).await
    }

    /// Step 3 done (every material scanned and matching).
    pub async fn materials_done(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let outcome = {
                let g = self.open.lock().await;
                let o = Self::expect(&g, Step::Materials)?;
                o.view
                    .changeover
                    .scans
                    .values()
                    .map(|s| s.label.clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            self.complete(Step::Materials, by, outcome, |_| {}).await
        }
        .await;
        self.run(r).await
    }

    /// Step 4: tick a kit checklist item.
    pub async fn tick_kit(&self, item: &str, done: bool) -> Result<View, ChangeoverError> {
        let r = async {
            let mut guard = self.open.lock().await;
            Self::expect(&guard, Step::Kit)?;
            if let Some(o) = guard.as_mut() {
                o.view.changeover.tick_kit(item, done);
            }
            self.persist(&mut guard, None).await
        }
        .await;
        self.run(r).await
    }

    /// Step 4 done (every item ticked).
    pub async fn kit_done(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = self
            .complete(Step::Kit, by, "kit changed".into(), |_| {})
            .await;
        self.run(r).await
    }

    /// Step 5: write the block, apply it, read back the CRC and compare. A mismatch stops
    /// the wizard at this step with the reason (retry, or abandon to roll back).
    pub async fn download(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Download)?.view.target.clone()
            };
            let crc = self
                .station
                .download(&target)
                .await
                .map_err(command_error)?;
            self.station.set_recipe(target.clone());
            tracing::info!(recipe = %target.id(), "changeover download verified, CRC {crc:#010x}");
            self.complete(Step::Download, by, format!("crc {crc:#010x}"), |v| {
                v.changeover.downloaded_crc = Some(crc);
            })
            .await
        }
        .await;
        self.run(r).await
    }

    /// The heater and (for copper) forming-gas readings against the target's bands:
    /// `(heater °C, in band, gas L/min, in band)`, `None` before the first status poll.
    pub fn conditions(&self) -> Option<(f64, bool, f64, bool)> {
        let target = self.view()?.target;
        let st = self.station.snapshot().status?;
        Some(self.in_band(&target, &st))
    }

    fn in_band(&self, target: &Recipe, st: &bonder_link::Status) -> (f64, bool, f64, bool) {
        let h = f64::from(st.heater_temp_c);
        let g = f64::from(st.forming_gas_l_min);
        let h_ok = (h - target.heater_temp_c.0).abs() <= self.cfg.heater_band_c;
        let g_ok = !target.wire.material.needs_forming_gas()
            || (g - target.forming_gas_l_min.0).abs() <= self.cfg.gas_band_l_min;
        (h, h_ok, g, g_ok)
    }

    /// Step 6: waits until the heater (and forming gas for copper) stay in band for
    /// the hold time; on timeout reports what is out of band and stays at the step.
    pub async fn settle(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Settle)?.view.target.clone()
            };
            let started = tokio::time::Instant::now();
            let mut since: Option<tokio::time::Instant> = None;
            let mut rx = self.station.watch();
            loop {
                let snap = rx.borrow_and_update().clone();
                if let Some(st) = snap.status {
                    let (h, h_ok, g, g_ok) = self.in_band(&target, &st);
                    if h_ok && g_ok {
                        let s = *since.get_or_insert_with(tokio::time::Instant::now);
                        if s.elapsed() >= self.cfg.settle_hold {
                            let secs = started.elapsed().as_secs_f64();
                            return self
                                .complete(
                                    Step::Settle,
                                    by,
                                    format!("heater {h:.1} °C, gas {g:.2} L/min after {secs:.1} s"),
                                    |_| {},
                                )
                                .await;
                        }
                    } else {
                        since = None;
                    }
                    if started.elapsed() >= self.cfg.settle_timeout {
                        return Err(ChangeoverError::NotSettled {
                            secs: self.cfg.settle_timeout.as_secs(),
                            heater: h,
                            heater_target: target.heater_temp_c.0,
                            heater_band: self.cfg.heater_band_c,
                            gas: g,
                            gas_target: target.forming_gas_l_min.0,
                        });
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(250), rx.changed()).await;
            }
        }
        .await;
        self.run(r).await
    }

    /// Step 7: pattern recognition teach / verify confirmed (by the vision crate when
    /// present; a confirm step otherwise).
    pub async fn pr_done(&self, by: &str, outcome: &str) -> Result<View, ChangeoverError> {
        let r = self
            .complete(Step::PrTeach, by, outcome.to_string(), |_| {})
            .await;
        self.run(r).await
    }

    /// Step 8a: leave setup, bond one unit (`wires_per_unit` wires: a ball and a stitch
    /// each) with the new recipe, stop; the view lists the bonds and their verdicts.
    pub async fn bond_first_article(&self) -> Result<Vec<FirstArticleBond>, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::FirstArticle)?.view.target.clone()
            };
            let want = usize::from(target.wires_per_unit) * 2;
            let mut events = self.station.subscribe();
            self.tolerant(Command::LeaveSetup).await?;
            self.station
                .command(Command::Start)
                .await
                .map_err(command_error)?;
            let mut bonds = Vec::new();
            let wait = self.cfg.first_article_timeout;
            let got = tokio::time::timeout(wait, async {
                while bonds.len() < want {
                    match events.recv().await {
                        Ok(StationEvent::Bond(b)) => bonds.push(FirstArticleBond {
                            seq: b.seq,
                            kind: b.event.kind,
                            verdict: b.judgement.verdict,
                        }),
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
            })
            .await;
            // Stop after the unit whichever way it went.
            if let Err(e) = self.station.command(Command::Stop).await {
                tracing::warn!("stop after the first article: {e}");
            }
            if got.is_err() || bonds.len() < want {
                return Err(ChangeoverError::NoFirstArticle(wait.as_secs()));
            }
            let mut guard = self.open.lock().await;
            if let Some(o) = guard.as_mut() {
                o.view.first_article_bonds = bonds.clone();
            }
            self.persist(&mut guard, None).await?;
            Ok(bonds)
        }
        .await;
        self.run(r).await
    }

    /// Step 8b: pull and shear results. Failing values are kept (shown) and block the
    /// step; passing ones finish it.
    pub async fn first_article_results(
        &self,
        by: &str,
        pulls_gf: Vec<f64>,
        shears_gf: Vec<f64>,
    ) -> Result<View, ChangeoverError> {
        let r = async {
            let fa = {
                let mut guard = self.open.lock().await;
                Self::expect(&guard, Step::FirstArticle)?;
                let open = guard.as_mut().ok_or(ChangeoverError::NotOpen)?;
                let fa = FirstArticle::new(&open.view.target, pulls_gf, shears_gf);
                open.view.changeover.first_article = Some(fa.clone());
                self.persist(&mut guard, None).await?;
                fa
            };
            fa.verdict().map_err(ChangeoverError::FirstArticle)?;
            let outcome = format!(
                "pull min {:.2} gf (≥ {:.2}), shear min {:.2} gf (≥ {:.2}), {} bonds",
                fa.pull_min(),
                fa.pull_required_gf,
                fa.shear_min(),
                fa.shear_required_gf,
                self.view().map_or(0, |v| v.first_article_bonds.len())
            );
            self.complete(Step::FirstArticle, by, outcome, |_| {}).await
        }
        .await;
        self.run(r).await
    }

    /// Step 9: sign-off by a technician or an engineer; the machine goes back to
    /// production, the record goes to the store and the gateway.
    pub async fn sign_off(&self, by: &str, role: Role) -> Result<View, ChangeoverError> {
        let r = async {
            {
                let g = self.open.lock().await;
                Self::expect(&g, Step::SignOff)?;
            }
            bonder_core::permissions::check(role, Permission::SignOffChangeover)?;
            // Commands are idempotent here: a refusal "wrong state" means the machine
            // is already past that point; the state it ends in is what is checked.
            self.tolerant(Command::LeaveSetup).await?;
            self.tolerant(Command::Start).await?;
            self.wait_state(MachineState::Running, Duration::from_secs(5))
                .await?;
            let view = self
                .complete(
                    Step::SignOff,
                    by,
                    format!("signed off ({})", role.name()),
                    |_| {},
                )
                .await?;
            let co = &view.changeover;
            let t = now();
            let fa = co.first_article.as_ref();
            self.writer.send(WriteOp::ChangeoverEnd(ChangeoverEnd {
                id: co.id,
                time: t,
                user: by.to_string(),
                role,
                first_article: fa.map(|f| bonder_store::FirstArticle {
                    passed: f.verdict().is_ok(),
                    pull_gf_min: f.pull_min() as f32,
                    shear_gf_min: f.shear_min() as f32,
                }),
                abandoned: false,
            }))?;
            let msg = self.record(co, t);
            let payload = serde_json::to_string(&msg)
                .map_err(|e| ChangeoverError::Store(StoreError::Corrupt(e.to_string())))?;
            self.writer.send(WriteOp::Outbox {
                time: t,
                topic: "changeovers".into(),
                payload,
            })?;
            self.writer.flush().await?;
            tracing::info!(
                changeover = co.id,
                minutes = msg.minutes,
                "changeover signed off"
            );
            *self.open.lock().await = None;
            self.view.send_replace(None);
            Ok(view)
        }
        .await;
        self.run(r).await
    }

    /// The `{S}/changeovers` record of a finished changeover.
    pub fn record(&self, co: &Changeover, ended: OffsetDateTime) -> ChangeoverMsg {
        let fa = co.first_article.as_ref();
        ChangeoverMsg {
            v: 1,
            id: format!("{}-co-{}", self.cfg.station_id, co.id),
            from_recipe: co.from_recipe.clone(),
            to_recipe: co.to_recipe.clone(),
            started: ts(from_ms(co.started_ms)),
            ended: ts(ended),
            minutes: ((unix_ms(ended) - co.started_ms) as f64 / 60_000.0 * 100.0).round() / 100.0,
            steps: co
                .done
                .iter()
                .map(|s| ChangeoverStepMsg {
                    name: s.step.name().to_string(),
                    started: ts(from_ms(s.started_ms)),
                    ended: ts(from_ms(s.ended_ms)),
                    by: s.by.clone(),
                })
                .collect(),
            first_article: FirstArticleMsg {
                passed: fa.is_some_and(|f| f.verdict().is_ok()),
                pull_gf_min: fa.map_or(0.0, FirstArticle::pull_min),
                shear_gf_min: fa.map_or(0.0, FirstArticle::shear_min),
            },
        }
    }

    /// Abandons the open changeover: the machine goes back to the previous recipe
    /// (downloaded again and verified by CRC when the new one had been downloaded),
    /// leaves setup, and the changeover is closed as `abandoned`.
    pub async fn abandon(&self, by: &str, role: Role) -> Result<(), ChangeoverError> {
        let r = async {
            bonder_core::permissions::check(role, Permission::RunChangeover)?;
            let (co, previous) = {
                let g = self.open.lock().await;
                let o = g.as_ref().ok_or(ChangeoverError::NotOpen)?;
                (o.view.changeover.clone(), o.previous.clone())
            };
            // Stop (if running or paused) and be in setup or idle for the download.
            self.tolerant(Command::Stop).await?;
            if let Some(prev) = previous {
                // Whether or not the new block reached the machine, make sure the old one
                // is what runs: download it and compare the CRC.
                let crc = self
                    .station
                    .download(&prev)
                    .await
                    .map_err(|e| ChangeoverError::Rollback(e.to_string()))?;
                self.station.set_recipe(prev.clone());
                tracing::info!(recipe = %prev.id(), "rolled back, CRC {crc:#010x}");
            }
            self.tolerant(Command::LeaveSetup).await?;
            self.writer.send(WriteOp::ChangeoverEnd(ChangeoverEnd {
                id: co.id,
                time: now(),
                user: by.to_string(),
                role,
                first_article: None,
                abandoned: true,
            }))?;
            self.writer.flush().await?;
            *self.open.lock().await = None;
            self.view.send_replace(None);
            Ok(())
        }
        .await;
        self.run(r).await
    }
}

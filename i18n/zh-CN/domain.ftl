# 领域名称：机台状态、焊点类型、缺陷、曲线通道、配方参数、配方状态、角色、校验原因、单位。

state-idle = 待机
state-running = 运行中
state-paused = 暂停
state-alarm = 报警
state-setup = 调机
state-estop = 急停
state-unknown = 无状态

bond-kind-ball = 第一焊点（球焊）
bond-kind-stitch = 第二焊点（楔焊）

defect-nsop = 第一焊点未粘
defect-nsol = 第二焊点未粘
defect-short_tail = 尾丝过短
defect-ball_size = 焊球尺寸超差
defect-placement = 焊点偏移
defect-curve = 曲线超出包络

channel-us_current = 超声电流
channel-force = 压力
channel-z_height = Z 轴高度
channel-impedance = 阻抗

param-slot = 配方槽位
param-wire-material = 线材
param-wire-diameter_um = 线径
param-heater_temp_c = 加热温度
param-efo-current_ma = 打火电流
param-efo-time_us = 打火时间
param-efo-fab_target_um = 目标烧球直径
param-ball-us_power_pct = 第一焊点超声功率
param-ball-force_gf = 第一焊点压力
param-ball-time_ms = 第一焊点时间
param-stitch-us_power_pct = 第二焊点超声功率
param-stitch-force_gf = 第二焊点压力
param-stitch-time_ms = 第二焊点时间
param-loop_height_um = 线弧高度
param-wires_per_unit = 每单元焊线数
param-forming_gas_l_min = 保护气体流量

recipe-state-draft = 草稿
recipe-state-released = 已发布
recipe-state-retired = 已停用

role-operator = 操作员
role-technician = 技术员
role-engineer = 工程师
role-supervisor = 主管
role-admin = 管理员

violation-empty = 不能为空
violation-unknown-doc-version = 不是已知的文档版本
violation-min-not-below-max = 最小值必须小于最大值
violation-not-positive = 必须大于零
violation-needs-forming-gas = 铜线需要保护气体
violation-fab-not-larger-than-wire = 烧球直径必须大于线径
violation-unknown-material-code = 不是已知的线材代码

unit-micrometres = µm
unit-gram-force = gf
unit-millis = ms
unit-micros = µs
unit-milliamps = mA
unit-percent = %
unit-celsius = °C
unit-litres-per-min = L/min
unit-ohms = Ω

## Process health (issue 18): warnings, their signals and causes
health-drift = 工艺漂移：{ $feature }{ $direction }；最可能原因为{ $cause }（{ $weight }%）
health-capillary = 预测劈刀寿命将尽：其焊点将在 { $eta } 根线后超出工艺窗口，早于计数寿命；最可能原因为{ $cause }（{ $weight }%）
health-yield_forecast = 预测良率将在 { $eta } 根线后低于 { $limit }%；最可能原因为{ $cause }（{ $weight }%）
health-cleared = 工艺健康：{ $what }已解除
health-dir-up = 上升
health-dir-down = 下降
health-kind-drift = 工艺漂移
health-kind-capillary = 劈刀预测
health-kind-yield_forecast = 良率预测
health-feature-ball_us_energy_mj = 第一焊点超声能量
health-feature-ball_deform_um = 第一焊点变形量
health-feature-ball_impedance_drop_pct = 第一焊点阻抗下降
health-feature-stitch_deform_um = 第二焊点变形量
health-feature-stitch_impedance_drop_pct = 第二焊点阻抗下降
health-feature-heater_offset_c = 加热读数
health-feature-nsop_share = 不粘比例
health-feature-predicted_shear_gf = 预测推力
health-feature-predicted_pull_gf = 预测拉力
health-feature-multivariate = 焊点信号模式
health-feature-yield = 良率
health-cause-ultrasonic_output = 超声输出
health-cause-capillary_wear = 劈刀磨损
health-cause-heater = 加热器
health-cause-material_lot = 材料批次
health-cause-contamination = 污染
health-cause-unknown = 未知

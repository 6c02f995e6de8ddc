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

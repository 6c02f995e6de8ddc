## 引导式换型（工位页面与提示）。

nav-changeover = 换型
co-title-none = 当前没有换型
co-title = 换型 { $id }：{ $from } → { $to }
co-work-order = 工单 { $wo }
co-elapsed = 已用 { $elapsed } 分钟 / 目标 { $target } 分钟 · 计划 { $plan } 分钟
co-step-time = { $actual } / { $standard } 分钟
co-steps = 步骤
co-start-title = 换型到已发布的配方
co-no-released = 配方库中没有已发布的版本
co-start = 开始
co-next = 完成，下一步
co-abandon = 放弃（恢复原配方）
co-busy = 正在执行…
co-what-changes = 变更内容
co-no-diff = 除配方版本外无变更
co-from = 原
co-to = 新

co-step-select = 1 选择配方
co-step-setup = 2 停机并进入调机
co-step-materials = 3 物料核对
co-step-kit = 4 换型套件
co-step-download = 5 下载配方
co-step-settle = 6 加热与保护气稳定
co-step-pr_teach = 7 图像识别示教/验证
co-step-first_article = 8 首件
co-step-sign_off = 9 签核

co-help-select = 核对变更内容，然后确认目标配方。
co-strip-out = 最后一条料已取出
co-help-setup = 取出最后一条料。设备将停止并进入调机状态。
co-help-materials = 扫描线轴、劈刀和引线框架料盒的标签。
co-scan-placeholder = 扫描或输入标签后按回车
co-scan-wire = 线轴
co-scan-capillary = 劈刀
co-scan-lead_frame = 引线框架
co-scan-missing = 未扫描
co-help-kit = 逐项完成机械步骤并勾选。
co-kit-capillary = 更换劈刀
co-kit-clamp = 更换线夹和压板
co-kit-heater_block = 更换加热块
co-kit-magazine = 调整料盒宽度
co-kit-minutes = { $minutes } 分钟
co-help-download = 写入配方块、应用并比对回读的 CRC。
co-download = 下载并校验
co-help-settle = 等待加热（铜线还有保护气）稳定在范围内。
co-settle = 等待稳定
co-heater-now = 加热 { $now } °C（目标 { $target } ± { $band }）
co-gas-now = 保护气 { $now } L/min（目标 { $target }）
co-help-pr_teach = 确认图像识别能找到新产品的焊盘。
co-pr-confirm = 已找到焊盘，确认
co-help-first_article = 焊接一个单元，然后输入拉力和推力结果（gf，用空格分隔）。
co-bond-unit = 焊接一个单元
co-fa-bonds = 首件：{ $bonds } 个焊点，{ $rejects } 个不良
co-pulls = 拉力结果（至少 { $n } 个，最小 { $min } gf）
co-shears = 推力结果（至少 { $n } 个，最小 { $min } gf）
co-fa-enter = 检查结果
co-help-sign_off = 由技术员或工程师签核；设备恢复生产。
co-sign-off = 签核并开始生产
co-done = 换型已签核，用时 { $minutes } 分钟。
co-abandoned = 换型已放弃；设备恢复运行原配方。

co-scan-format = “{ $label }”不是{ $expected }标签（{ $format }）
co-scan-wire-material = 线材错误：{ $required } 配方上扫描到 { $scanned } 线。请装 { $required } 线轴。
co-scan-wire-diameter = 线径错误：{ $scanned } µm，配方要求 { $required } µm。
co-scan-wrong-capillary = 劈刀错误：{ $scanned }，配方要求 { $required }。
co-scan-device = 引线框架错误：适用于 { $scanned }，配方适用于 { $required }。
co-fa-too-few = 至少输入 { $needed } 个拉力和 { $needed_shear } 个推力结果（已输入 { $pulls } 和 { $shears } 个）。
co-fa-nan = 每个结果都必须是正数。
co-fa-pull = 最小拉力 { $min } gf 低于下限 { $required } gf：不得放行生产。
co-fa-shear = 最小推力 { $min } gf 低于下限 { $required } gf：不得放行生产。
co-err-already-open = 换型 { $id } 已在进行中。
co-err-not-open = 当前没有换型。
co-err-wrong-step = 向导处于步骤 { $at }，不是 { $expected }。
co-err-not-released = { $recipe } 不是已发布的版本。
co-err-store = 工位数据库出错：{ $detail }
co-err-scan-missing = 请先扫描{ $material }。
co-err-kit-missing = 请先勾选所有套件步骤（{ $item }）。
co-err-not-downloaded = 请先下载并校验配方。
co-err-no-results = 请先输入首件结果。
co-err-strip = 请先确认最后一条料已取出。
co-err-controller = 控制器拒绝或无应答：{ $detail }
co-err-crc = 下载已停止：回读的 CRC（{ $actual }）与发送的配方块（{ $expected }）不一致。请重试或放弃。
co-err-download = 下载已停止：{ $detail }
co-err-not-settled = { $secs } 秒后仍未稳定：加热 { $heater } °C（目标 { $heater_target } ± { $heater_band }），保护气 { $gas } L/min（目标 { $gas_target }）。
co-err-no-first-article = 设备在 { $secs } 秒内没有焊出首件。
co-err-role = 须由技术员或工程师签核；角色“{ $role }”不能签核。
co-err-rollback = 恢复原配方失败：{ $detail }

## 控制器配方块以外的配方字段（差异）。
param-name = 配方名称
param-device = 产品
param-capillary = 劈刀型号
param-limits-ball_um-min = 焊球直径下限
param-limits-ball_um-max = 焊球直径上限
param-limits-placement_um = 焊点位置偏差上限
param-limits-pull_min_gf = 最小拉力
param-limits-shear_min_gf = 最小推力
param-envelope-learn_bonds = 包络学习焊点数
param-envelope-k_sigma = 包络宽度（σ）
param-capillary_life_touchdowns = 劈刀寿命（触碰次数）

## 换型报告。
co-report-title = 最近 { $n } 次换型：最慢的步骤在前
co-report-none = 尚无完成的换型
co-report-row = 中位数 { $median } · p90 { $p90 } · 标准 { $standard } 分钟
co-report-step = 步骤
co-report-count = 换型次数
co-report-median = 中位数（分钟）
co-report-p90 = p90（分钟）
co-report-standard = 标准（分钟）

## 有相机时的图像识别步骤。
co-pr-no-template = 请先在相机页面示教焊盘模板。
co-pr-no-frame = 还没有相机图像：请检查相机。
co-pr-no-pads = 用示教的模板找不到焊盘：请在相机页面重新示教。

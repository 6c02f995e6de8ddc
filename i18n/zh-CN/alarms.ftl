# 报警文字与首要处理，与 bonder_core::AlarmCode 相同（bonder-i18n 的测试保证一致）。

alarm-101 = 第一焊点未粘上（焊盘未粘）
alarm-101-action = 检查焊盘污染和第一焊点超声功率；清洁劈刀
alarm-102 = 第二焊点未粘上（引线框未粘）
alarm-102-action = 检查引线框压板和镀层；检查第二焊点压力
alarm-103 = 尾丝过短
alarm-103-action = 检查线夹和尾丝长度；必要时重新穿线
alarm-104 = 断线或线材用完
alarm-104-action = 重新穿线或更换线轴，然后复位
alarm-105 = EFO 开路：无打火，未形成金属球
alarm-105-action = 检查打火杆间隙和尾丝；清洁打火杆
alarm-201 = 加热温度超出范围
alarm-201-action = 等待温度稳定；检查加热块
alarm-202 = 保护气体流量过低
alarm-202-action = 检查氮氢气源和流量计
alarm-301 = 图像识别失败：未找到图案
alarm-301-action = 检查光源和焦距；重新示教图案
alarm-401 = 安全门打开
alarm-401-action = 关闭安全门，然后复位
alarm-905 = 登录已锁定：登录失败次数过多
alarm-905-action = 等待锁定结束；如非本人操作，请通知安全人员
alarm-unknown = 未知报警
alarm-unknown-action = 请联系工艺工程师

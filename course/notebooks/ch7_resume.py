# %% [markdown]
# # 手写数字识别之恢复训练
#
# 训练可能因为各种原因中断:机器重启、任务超时、手动停止。如果每一轮都把模型和优化器的状态存下来,
# 就能从最后保存的那一轮接着训练,而且接着训练的结果应当和从没中断过**完全一样**。要做到这一点,
# 三样东西都要恢复:
#
# 1. **模型参数**:`model.state_dict()` 存成 `.pdparams`;
# 2. **优化器状态**:`opt.state_dict()` 存成 `.pdopt`——Momentum 的"速度",以及学习率调度走到了
#    哪一步(飞桨把它放在优化器的状态里);
# 3. **随机性**:每一轮的数据顺序只由(随机种子,轮次)决定,接着训练时看到的批次才和原来相同。
#
# 课程用 Momentum 和多项式衰减的学习率(`PolynomialDecay`,从 0.01 降到 0.001)来演示:
# 学习率每一步都在变,恢复时少恢复一样,损失就会和原来的不同。
#
# 本笔记本由 `course/notebooks/ch7_resume.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch7_resume.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup
DEVICE = setup()

# %% [markdown]
# 恢复得"完全一样"是在 CPU 上说的:GPU 上有些运算的求和顺序不固定,结果会在最后几位上略有不同。

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
SEED, BATCH_SIZE = 0, 64
EPOCHS = 2 if QUICK else 3
SUBSET = 500 if QUICK else 5_000       # 训练图片数
RESUME_FROM = 1                        # 从第几轮保存的文件接着训练

# %% [markdown]
# ## 训练并在每一轮结束时保存
#
# 训练循环在章节模块里(`course/chapters/ch7_resume.py` 的 `train`),下面打印出来:除了前向、
# 损失、反向、`step`、`clear_grad`,每个批次之后 `schedule.step()` 让学习率往下走一步,
# 每一轮结束用 `paddle.save` 存两个文件。课程原文的 `fluid.save_dygraph(state_dict, 'mnist')`
# 会自己加 `.pdparams` / `.pdopt` 后缀,`paddle.save` 不加,要写完整的文件名
# ([docs/fluid_to_paddle3.md](../../docs/fluid_to_paddle3.md) 第 9 条)。

# %%
import inspect

import paddle
from IPython.display import Code, display

from course.chapters.ch7_resume import make_training, train

display(Code(inspect.getsource(train), language="python"))

# %%
splits = mnist_splits(DATASET, SUBSET)
data = (splits.train.images, splits.train.labels)
folder = pathlib.Path(LOGDIR) / "ch7-resume"
(folder / "resumed").mkdir(parents=True, exist_ok=True)
steps = EPOCHS * -(-len(data[0]) // BATCH_SIZE)          # 学习率在这么多步里从 0.01 降到 0.001

model, opt, schedule, names = make_training(SEED, steps)
whole = train(model, opt, schedule, names, data, EPOCHS, folder, SEED, BATCH_SIZE)
print("每轮的平均损失:", whole)
print("保存的文件:", sorted(p.name for p in folder.glob("epoch*")))

# %% [markdown]
# ## 从保存的文件接着训练
#
# 新建模型和优化器(故意用另一个随机种子:参数必须来自文件,而不是碰巧相同的初始化),
# 用 `set_state_dict` 装回第 `RESUME_FROM` 轮的参数和优化器状态,从下一轮接着训练。
# 装回之后,学习率也回到了那一轮结束时的值。

# %%
model, opt, schedule, names = make_training(SEED + 1, steps)
model.set_state_dict(paddle.load(str(folder / f"epoch{RESUME_FROM}.pdparams")))
opt.set_state_dict(paddle.load(str(folder / f"epoch{RESUME_FROM}.pdopt")))
resumed_lr = opt.get_lr()
print(f"装回第 {RESUME_FROM} 轮之后的学习率:{resumed_lr:.6f}")
again = train(model, opt, schedule, names, data, EPOCHS, folder / "resumed", SEED, BATCH_SIZE, start=RESUME_FROM)

print("epoch  没有中断          从第", RESUME_FROM, "轮恢复")
for epoch, loss in enumerate(whole, start=1):
    other = again[epoch - RESUME_FROM - 1] if epoch > RESUME_FROM else None
    print(f"{epoch:>5}  {loss:.10f}    {'' if other is None else f'{other:.10f}'}")
same = whole[RESUME_FROM:] == again
print("恢复后的损失和没有中断的", "完全相同" if same else "不同!")

# %% [markdown]
# ## 项目里的每一次训练都能这样恢复
#
# 项目的训练引擎每一轮把模型、优化器、学习率调度、回调、轮次、随机数状态和历史记录存进运行目录的
# 一个文件 `last.pdckpt`;中断之后再运行同样的命令(或再运行同一个单元),就从最后一轮接着训练,
# 结束时的参数和指标与从没中断的运行相同。试试在前几节的对比实验运行时中断内核,再运行一次那个单元。

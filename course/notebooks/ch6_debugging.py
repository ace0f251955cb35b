# %% [markdown]
# # 手写数字识别之训练调试与优化
#
# 模型能训练起来之后,还要知道它训练得好不好、哪里出了问题。这一节在训练循环里加上几样东西:
#
# 1. **计算分类准确率**,和损失一起观察;
# 2. **检查中间层**:打印每一层输出的形状和数值(`check_shape`、`check_content`),在长时间训练
#    之前发现写错的 reshape 或"死掉"的层;
# 3. **在验证集上评估**,看模型在没见过的数据上的表现;
# 4. **加入正则化**(L2),缓解过拟合;
# 5. **可视化**:用 VisualDL 和 matplotlib 画出训练曲线。
#
# 本笔记本由 `course/notebooks/ch6_debugging.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch6_debugging.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup, show
DEVICE = setup()

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
LR, L2 = 0.01, 5e-4           # SGD 的学习率,L2 正则化系数
EPOCHS = 1 if QUICK else 5
SUBSET = 1000 if QUICK else 10_000     # 训练图片数(0 = 全部 50,000 张)
VAL_SUBSET = 300 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
LOG_EVERY = 2 if QUICK else 20         # 每隔多少个批次记一次损失和准确率
OVERFIT_EPOCHS = 4 if QUICK else 20    # 过拟合实验:小训练集、多轮
OVERFIT_SUBSET = 500 if QUICK else 2_000
WEIGHT_DECAYS = [0, 0.0005, 0.005]     # 比较的 L2 系数
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## 检查中间层:check_shape 和 check_content
#
# 网络还是第 4 节的卷积网络(项目里的 `models.LeNet`,它的层不变),这里只重写 `forward`:
# 多两个开关,打开时打印每一层输出的形状,以及第一层卷积的参数和输出的数值。

# %%
import numpy as np
import paddle
import paddle.nn.functional as F

from data.mnist import load_data
from models.mnist_nets import LeNet


class MNIST(LeNet):
    def forward(self, inputs, check_shape=False, check_content=False):
        outputs1 = self.conv1(inputs)
        outputs2 = self.pool1(F.relu(outputs1))
        outputs3 = self.conv2(outputs2)
        outputs4 = self.pool2(F.relu(outputs3))
        outputs5 = self.fc(paddle.flatten(outputs4, 1))
        if check_shape:
            for name, x in [("inputs", inputs), ("conv1", outputs1), ("pool1", outputs2), ("conv2", outputs3),
                            ("pool2", outputs4), ("fc", outputs5)]:
                print(f"{name:<7} {x.shape}")
        if check_content:
            print("conv1 的第一个卷积核:\n", self.conv1.weight.numpy()[0, 0].round(3))
            print(f"conv1 输出:均值 {float(outputs1.mean()):.4f},标准差 {float(outputs1.std()):.4f}")
        return outputs5


splits = mnist_splits(DATASET, SUBSET, VAL_SUBSET)
train_loader = load_data("train", batch_size=64, splits=splits, seed=0)
images, labels = next(train_loader())
paddle.seed(0)
model = MNIST()
model(paddle.to_tensor(images), check_shape=True, check_content=True);

# %% [markdown]
# 把每一层都检查一遍更方便的办法是给它们挂上前向钩子(forward hook):下面的表是同一批图片
# 经过每一层之后的形状、均值、标准差和零的比例。某一层输出全是 0(ReLU 之后"死掉"),
# 或者数值大得离谱,都在这里一眼可见。

# %%
from course.chapters.ch6_debugging import check_layers, layer_table, overfitting

layers = check_layers(model, images)
print("\n".join(layer_table(layers)))
layer_shapes = {row["layer"]: row["shape"] for row in layers}

# %% [markdown]
# ## 准确率、评估和可视化
#
# 训练循环里用 `paddle.metric.accuracy` 算每个批次的准确率;每隔 `LOG_EVERY` 个批次,把损失和
# 准确率写进 VisualDL(`LogWriter.add_scalar`),同时记在列表里,最后用 matplotlib 画出来。
# 每一轮结束用 `evaluation` 在训练集和验证集上各评估一次:`model.eval()` 关掉 dropout 等只在训练时
# 起作用的层,`paddle.no_grad()` 不记录梯度。优化器的 `weight_decay` 就是 L2 正则化。

# %%
from visualdl import LogWriter

from course.engine.figures import label, plt, save_figure, style


@paddle.no_grad()
def evaluation(model, loader):
    model.eval()
    correct, seen = 0.0, 0
    for images, labels in loader():
        predicts = model(paddle.to_tensor(images))
        correct += float(paddle.metric.accuracy(input=predicts, label=paddle.to_tensor(labels))) * len(labels)
        seen += len(labels)
    model.train()
    return correct / seen


run_dir = pathlib.Path(LOGDIR) / "ch6-debugging" / "by-hand"
writer = LogWriter(logdir=str(run_dir / "vdl"))
opt = paddle.optimizer.SGD(learning_rate=LR, parameters=model.parameters(),
                           weight_decay=paddle.regularizer.L2Decay(coeff=L2))
steps, losses, accs = [], [], []
step = 0
model.train()
for epoch in range(EPOCHS):
    for images, labels in train_loader():
        images, labels = paddle.to_tensor(images), paddle.to_tensor(labels)
        predicts = model(images)
        loss = F.cross_entropy(predicts, labels)
        acc = paddle.metric.accuracy(input=predicts, label=labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        if step % LOG_EVERY == 0:
            writer.add_scalar(tag="train/loss", step=step, value=float(loss))
            writer.add_scalar(tag="train/acc", step=step, value=float(acc))
            steps.append(step)
            losses.append(float(loss))
            accs.append(float(acc))
        step += 1
    train_acc = evaluation(model, load_data("train", batch_size=100, splits=splits))
    val_acc = evaluation(model, load_data("valid", batch_size=100, splits=splits))
    writer.add_scalar(tag="val/acc", step=epoch + 1, value=val_acc)
    print(f"epoch {epoch}: 训练集准确率 {train_acc:.2%},验证集准确率 {val_acc:.2%}")
writer.close()

with style():
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, losses, label=label("训练损失", "train loss"))
    ax.set_xlabel(label("批次", "batch"))
    ax.set_ylabel(label("损失", "loss"))
    acc_ax = ax.twinx()   # 准确率用百分数画在右侧的轴上，与表格的单位一致
    acc_ax.plot(steps, [100 * a for a in accs], color="C1", label=label("训练准确率", "train accuracy"))
    acc_ax.set_ylabel(label("训练准确率（%）", "train accuracy (%)"))
    fig.legend(loc="center right", bbox_to_anchor=(0.85, 0.5))
    save_figure(fig, run_dir / "training.png")
show(run_dir / "training.png")

# %% [markdown]
# 在 AI Studio 上,左侧"可视化"面板选择 `vdl` 目录即可看到 VisualDL 的曲线;在自己的电脑上运行
# `visualdl --logdir <上面的 run_dir>/vdl`。

# %% [markdown]
# ## 过拟合与正则化
#
# 训练数据少、模型参数多时,模型会"背下"训练集:训练集上的准确率远高于验证集,这就是**过拟合**。
# 正则化在损失里加上参数的平方和(L2),惩罚过大的权重,让模型更简单。下面用课程的多层前馈网络在
# 很小的训练集上训练很多轮,比较不同 L2 系数时训练集和验证集准确率的差距。

# %%
from IPython.display import Markdown, display

from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

base = RunConfig(dataset=DATASET, model="mlp_relu", lr=0.1, epochs=OVERFIT_EPOCHS, subset=OVERFIT_SUBSET,
                 val_subset=VAL_SUBSET, device=DEVICE)
arms = [{"optimizer": "sgd", "label": f"l2={wd:g}", "weight_decay": wd} for wd in WEIGHT_DECAYS]
sweep = Sweep(base, arms, lrs=[0.1], logdir=LOGDIR, folder="ch6-debugging")
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True),
                        title="ch6-debugging: L2 against over-fitting (训练调试与优化)", summary=overfitting)
gaps = {run["variant"]: run["history"][-1]["train_acc"] - run["history"][-1]["val_acc"] for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"])

# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'measure_dialog.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QGridLayout,
    QHBoxLayout, QLabel, QPushButton, QScrollArea,
    QSizePolicy, QSpacerItem, QVBoxLayout, QWidget)

from cocm_desktop.gui.inputs import DateTimeEdit

class Ui_MeasureDialog(object):
    def setupUi(self, MeasureDialog):
        if not MeasureDialog.objectName():
            MeasureDialog.setObjectName(u"MeasureDialog")
        MeasureDialog.resize(860, 760)
        self.outerLayout = QVBoxLayout(MeasureDialog)
        self.outerLayout.setSpacing(8)
        self.outerLayout.setObjectName(u"outerLayout")
        self.outerLayout.setContentsMargins(22, 18, 22, 16)
        self.titleRow = QHBoxLayout()
        self.titleRow.setObjectName(u"titleRow")
        self.titleLabel = QLabel(MeasureDialog)
        self.titleLabel.setObjectName(u"titleLabel")
        self.titleLabel.setText(u"PHQ-9")
        self.titleLabel.setProperty(u"role", u"title")

        self.titleRow.addWidget(self.titleLabel)

        self.patientLabel = QLabel(MeasureDialog)
        self.patientLabel.setObjectName(u"patientLabel")
        self.patientLabel.setText(u"")
        self.patientLabel.setProperty(u"role", u"muted")

        self.titleRow.addWidget(self.patientLabel)

        self.titleSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.titleRow.addItem(self.titleSpacer)

        self.takenAtLabel = QLabel(MeasureDialog)
        self.takenAtLabel.setObjectName(u"takenAtLabel")

        self.titleRow.addWidget(self.takenAtLabel)

        self.takenAtEdit = DateTimeEdit(MeasureDialog)
        self.takenAtEdit.setObjectName(u"takenAtEdit")
        self.takenAtEdit.setDisplayFormat(u"yyyy-MM-dd HH:mm")
        self.takenAtEdit.setCalendarPopup(True)

        self.titleRow.addWidget(self.takenAtEdit)


        self.outerLayout.addLayout(self.titleRow)

        self.stemLabel = QLabel(MeasureDialog)
        self.stemLabel.setObjectName(u"stemLabel")
        self.stemLabel.setText(u"")
        self.stemLabel.setWordWrap(True)
        self.stemLabel.setProperty(u"role", u"subtitle")

        self.outerLayout.addWidget(self.stemLabel)

        self.itemsScroll = QScrollArea(MeasureDialog)
        self.itemsScroll.setObjectName(u"itemsScroll")
        self.itemsScroll.setWidgetResizable(True)
        self.itemsContainer = QWidget()
        self.itemsContainer.setObjectName(u"itemsContainer")
        self.itemsGrid = QGridLayout(self.itemsContainer)
        self.itemsGrid.setObjectName(u"itemsGrid")
        self.itemsGrid.setHorizontalSpacing(6)
        self.itemsGrid.setVerticalSpacing(2)
        self.itemsScroll.setWidget(self.itemsContainer)

        self.outerLayout.addWidget(self.itemsScroll)

        self.difficultyRow = QHBoxLayout()
        self.difficultyRow.setObjectName(u"difficultyRow")
        self.difficultyLabel = QLabel(MeasureDialog)
        self.difficultyLabel.setObjectName(u"difficultyLabel")
        self.difficultyLabel.setWordWrap(True)

        self.difficultyRow.addWidget(self.difficultyLabel)

        self.difficultyCombo = QComboBox(MeasureDialog)
        self.difficultyCombo.setObjectName(u"difficultyCombo")

        self.difficultyRow.addWidget(self.difficultyCombo)


        self.outerLayout.addLayout(self.difficultyRow)

        self.safetyWarning = QLabel(MeasureDialog)
        self.safetyWarning.setObjectName(u"safetyWarning")
        self.safetyWarning.setWordWrap(True)
        self.safetyWarning.setProperty(u"role", u"safety")

        self.outerLayout.addWidget(self.safetyWarning)

        self.errorLabel = QLabel(MeasureDialog)
        self.errorLabel.setObjectName(u"errorLabel")
        self.errorLabel.setText(u"")
        self.errorLabel.setWordWrap(True)
        self.errorLabel.setProperty(u"role", u"error")

        self.outerLayout.addWidget(self.errorLabel)

        self.footerRow = QHBoxLayout()
        self.footerRow.setObjectName(u"footerRow")
        self.totalLabel = QLabel(MeasureDialog)
        self.totalLabel.setObjectName(u"totalLabel")
        self.totalLabel.setText(u"Total \u2014")
        self.totalLabel.setProperty(u"role", u"total")

        self.footerRow.addWidget(self.totalLabel)

        self.bandLabel = QLabel(MeasureDialog)
        self.bandLabel.setObjectName(u"bandLabel")
        self.bandLabel.setText(u"")
        self.bandLabel.setProperty(u"role", u"muted")

        self.footerRow.addWidget(self.bandLabel)

        self.footerSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.footerRow.addItem(self.footerSpacer)

        self.cancelButton = QPushButton(MeasureDialog)
        self.cancelButton.setObjectName(u"cancelButton")
        self.cancelButton.setAutoDefault(False)

        self.footerRow.addWidget(self.cancelButton)

        self.saveButton = QPushButton(MeasureDialog)
        self.saveButton.setObjectName(u"saveButton")
        self.saveButton.setEnabled(False)
        self.saveButton.setProperty(u"primary", True)
        self.saveButton.setAutoDefault(False)

        self.footerRow.addWidget(self.saveButton)


        self.outerLayout.addLayout(self.footerRow)

#if QT_CONFIG(shortcut)
        self.takenAtLabel.setBuddy(self.takenAtEdit)
        self.difficultyLabel.setBuddy(self.difficultyCombo)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(MeasureDialog)

        QMetaObject.connectSlotsByName(MeasureDialog)
    # setupUi

    def retranslateUi(self, MeasureDialog):
        MeasureDialog.setWindowTitle(QCoreApplication.translate("MeasureDialog", u"Record a measure", None))
        self.takenAtLabel.setText(QCoreApplication.translate("MeasureDialog", u"&Taken", None))
        self.difficultyLabel.setText(QCoreApplication.translate("MeasureDialog", u"How difficult have these problems made work, home or getting along with people? (optional, not scored)", None))
        self.safetyWarning.setText(QCoreApplication.translate("MeasureDialog", u"Item 9 (thoughts of self-harm) is above 0. Saving opens the risk workflow at once: do the safety assessment now and notify the treating clinician.", None))
        self.cancelButton.setText(QCoreApplication.translate("MeasureDialog", u"Cancel", None))
        self.saveButton.setText(QCoreApplication.translate("MeasureDialog", u"Save", None))
    # retranslateUi


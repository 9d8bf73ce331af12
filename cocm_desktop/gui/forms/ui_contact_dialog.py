# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'contact_dialog.ui'
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
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog,
    QFormLayout, QGroupBox, QHBoxLayout, QLabel,
    QLineEdit, QPlainTextEdit, QPushButton, QSizePolicy,
    QSpacerItem, QVBoxLayout, QWidget)

from cocm_desktop.gui.inputs import (DateEdit, DateTimeEdit, NumberEdit)

class Ui_ContactDialog(object):
    def setupUi(self, ContactDialog):
        if not ContactDialog.objectName():
            ContactDialog.setObjectName(u"ContactDialog")
        ContactDialog.resize(640, 720)
        self.outerLayout = QVBoxLayout(ContactDialog)
        self.outerLayout.setSpacing(8)
        self.outerLayout.setObjectName(u"outerLayout")
        self.outerLayout.setContentsMargins(22, 18, 22, 16)
        self.titleRow = QHBoxLayout()
        self.titleRow.setObjectName(u"titleRow")
        self.titleLabel = QLabel(ContactDialog)
        self.titleLabel.setObjectName(u"titleLabel")
        self.titleLabel.setProperty(u"role", u"title")

        self.titleRow.addWidget(self.titleLabel)

        self.patientLabel = QLabel(ContactDialog)
        self.patientLabel.setObjectName(u"patientLabel")
        self.patientLabel.setText(u"")
        self.patientLabel.setProperty(u"role", u"muted")

        self.titleRow.addWidget(self.patientLabel)

        self.titleSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.titleRow.addItem(self.titleSpacer)


        self.outerLayout.addLayout(self.titleRow)

        self.form = QFormLayout()
        self.form.setObjectName(u"form")
        self.form.setLabelAlignment(Qt.AlignRight|Qt.AlignTop)
        self.form.setVerticalSpacing(7)
        self.contactAtLabel = QLabel(ContactDialog)
        self.contactAtLabel.setObjectName(u"contactAtLabel")

        self.form.setWidget(0, QFormLayout.ItemRole.LabelRole, self.contactAtLabel)

        self.contactAt = DateTimeEdit(ContactDialog)
        self.contactAt.setObjectName(u"contactAt")
        self.contactAt.setDisplayFormat(u"yyyy-MM-dd HH:mm")
        self.contactAt.setCalendarPopup(True)

        self.form.setWidget(0, QFormLayout.ItemRole.FieldRole, self.contactAt)

        self.modeComboLabel = QLabel(ContactDialog)
        self.modeComboLabel.setObjectName(u"modeComboLabel")

        self.form.setWidget(1, QFormLayout.ItemRole.LabelRole, self.modeComboLabel)

        self.modeCombo = QComboBox(ContactDialog)
        self.modeCombo.setObjectName(u"modeCombo")

        self.form.setWidget(1, QFormLayout.ItemRole.FieldRole, self.modeCombo)

        self.kindComboLabel = QLabel(ContactDialog)
        self.kindComboLabel.setObjectName(u"kindComboLabel")

        self.form.setWidget(2, QFormLayout.ItemRole.LabelRole, self.kindComboLabel)

        self.kindCombo = QComboBox(ContactDialog)
        self.kindCombo.setObjectName(u"kindCombo")

        self.form.setWidget(2, QFormLayout.ItemRole.FieldRole, self.kindCombo)

        self.reachedCheck = QCheckBox(ContactDialog)
        self.reachedCheck.setObjectName(u"reachedCheck")
        self.reachedCheck.setChecked(True)

        self.form.setWidget(3, QFormLayout.ItemRole.FieldRole, self.reachedCheck)

        self.adherenceEditLabel = QLabel(ContactDialog)
        self.adherenceEditLabel.setObjectName(u"adherenceEditLabel")

        self.form.setWidget(4, QFormLayout.ItemRole.LabelRole, self.adherenceEditLabel)

        self.adherenceEdit = QLineEdit(ContactDialog)
        self.adherenceEdit.setObjectName(u"adherenceEdit")

        self.form.setWidget(4, QFormLayout.ItemRole.FieldRole, self.adherenceEdit)

        self.sideEffectsEditLabel = QLabel(ContactDialog)
        self.sideEffectsEditLabel.setObjectName(u"sideEffectsEditLabel")

        self.form.setWidget(5, QFormLayout.ItemRole.LabelRole, self.sideEffectsEditLabel)

        self.sideEffectsEdit = QLineEdit(ContactDialog)
        self.sideEffectsEdit.setObjectName(u"sideEffectsEdit")

        self.form.setWidget(5, QFormLayout.ItemRole.FieldRole, self.sideEffectsEdit)

        self.skillEditLabel = QLabel(ContactDialog)
        self.skillEditLabel.setObjectName(u"skillEditLabel")

        self.form.setWidget(6, QFormLayout.ItemRole.LabelRole, self.skillEditLabel)

        self.skillEdit = QLineEdit(ContactDialog)
        self.skillEdit.setObjectName(u"skillEdit")

        self.form.setWidget(6, QFormLayout.ItemRole.FieldRole, self.skillEdit)

        self.summaryEditLabel = QLabel(ContactDialog)
        self.summaryEditLabel.setObjectName(u"summaryEditLabel")

        self.form.setWidget(7, QFormLayout.ItemRole.LabelRole, self.summaryEditLabel)

        self.summaryEdit = QPlainTextEdit(ContactDialog)
        self.summaryEdit.setObjectName(u"summaryEdit")
        self.summaryEdit.setTabChangesFocus(True)

        self.form.setWidget(7, QFormLayout.ItemRole.FieldRole, self.summaryEdit)

        self.questionEditLabel = QLabel(ContactDialog)
        self.questionEditLabel.setObjectName(u"questionEditLabel")

        self.form.setWidget(8, QFormLayout.ItemRole.LabelRole, self.questionEditLabel)

        self.questionEdit = QPlainTextEdit(ContactDialog)
        self.questionEdit.setObjectName(u"questionEdit")
        self.questionEdit.setTabChangesFocus(True)
        self.questionEdit.setMaximumSize(QSize(16777215, 70))

        self.form.setWidget(8, QFormLayout.ItemRole.FieldRole, self.questionEdit)

        self.minutesEditLabel = QLabel(ContactDialog)
        self.minutesEditLabel.setObjectName(u"minutesEditLabel")

        self.form.setWidget(9, QFormLayout.ItemRole.LabelRole, self.minutesEditLabel)

        self.minutesEdit = NumberEdit(ContactDialog)
        self.minutesEdit.setObjectName(u"minutesEdit")

        self.form.setWidget(9, QFormLayout.ItemRole.FieldRole, self.minutesEdit)


        self.outerLayout.addLayout(self.form)

        self.nextStepBox = QGroupBox(ContactDialog)
        self.nextStepBox.setObjectName(u"nextStepBox")
        self.nextForm = QFormLayout(self.nextStepBox)
        self.nextForm.setObjectName(u"nextForm")
        self.nextForm.setLabelAlignment(Qt.AlignRight|Qt.AlignVCenter)
        self.nextStepLabel = QLabel(self.nextStepBox)
        self.nextStepLabel.setObjectName(u"nextStepLabel")

        self.nextForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.nextStepLabel)

        self.nextStepEdit = QLineEdit(self.nextStepBox)
        self.nextStepEdit.setObjectName(u"nextStepEdit")
        self.nextStepEdit.setMaxLength(300)

        self.nextForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.nextStepEdit)

        self.nextDateLabel = QLabel(self.nextStepBox)
        self.nextDateLabel.setObjectName(u"nextDateLabel")

        self.nextForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.nextDateLabel)

        self.nextDateEdit = DateEdit(self.nextStepBox)
        self.nextDateEdit.setObjectName(u"nextDateEdit")
        self.nextDateEdit.setDisplayFormat(u"yyyy-MM-dd")
        self.nextDateEdit.setCalendarPopup(True)

        self.nextForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.nextDateEdit)


        self.outerLayout.addWidget(self.nextStepBox)

        self.errorLabel = QLabel(ContactDialog)
        self.errorLabel.setObjectName(u"errorLabel")
        self.errorLabel.setText(u"")
        self.errorLabel.setWordWrap(True)
        self.errorLabel.setProperty(u"role", u"error")

        self.outerLayout.addWidget(self.errorLabel)

        self.buttonRow = QHBoxLayout()
        self.buttonRow.setObjectName(u"buttonRow")
        self.buttonSpacer = QSpacerItem(10, 10, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.buttonRow.addItem(self.buttonSpacer)

        self.cancelButton = QPushButton(ContactDialog)
        self.cancelButton.setObjectName(u"cancelButton")
        self.cancelButton.setAutoDefault(False)

        self.buttonRow.addWidget(self.cancelButton)

        self.saveButton = QPushButton(ContactDialog)
        self.saveButton.setObjectName(u"saveButton")
        self.saveButton.setProperty(u"primary", True)
        self.saveButton.setAutoDefault(False)

        self.buttonRow.addWidget(self.saveButton)


        self.outerLayout.addLayout(self.buttonRow)

#if QT_CONFIG(shortcut)
        self.contactAtLabel.setBuddy(self.contactAt)
        self.modeComboLabel.setBuddy(self.modeCombo)
        self.kindComboLabel.setBuddy(self.kindCombo)
        self.adherenceEditLabel.setBuddy(self.adherenceEdit)
        self.sideEffectsEditLabel.setBuddy(self.sideEffectsEdit)
        self.skillEditLabel.setBuddy(self.skillEdit)
        self.summaryEditLabel.setBuddy(self.summaryEdit)
        self.questionEditLabel.setBuddy(self.questionEdit)
        self.minutesEditLabel.setBuddy(self.minutesEdit)
        self.nextStepLabel.setBuddy(self.nextStepEdit)
        self.nextDateLabel.setBuddy(self.nextDateEdit)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(ContactDialog)

        QMetaObject.connectSlotsByName(ContactDialog)
    # setupUi

    def retranslateUi(self, ContactDialog):
        ContactDialog.setWindowTitle(QCoreApplication.translate("ContactDialog", u"Record a contact", None))
        self.titleLabel.setText(QCoreApplication.translate("ContactDialog", u"Contact note", None))
        self.contactAtLabel.setText(QCoreApplication.translate("ContactDialog", u"&When", None))
        self.modeComboLabel.setText(QCoreApplication.translate("ContactDialog", u"&Mode", None))
        self.kindComboLabel.setText(QCoreApplication.translate("ContactDialog", u"&Kind", None))
        self.reachedCheck.setText(QCoreApplication.translate("ContactDialog", u"Patient reached", None))
        self.adherenceEditLabel.setText(QCoreApplication.translate("ContactDialog", u"&Adherence", None))
        self.adherenceEdit.setPlaceholderText(QCoreApplication.translate("ContactDialog", u"e.g. taking sertraline daily, missed 2 doses", None))
        self.sideEffectsEditLabel.setText(QCoreApplication.translate("ContactDialog", u"&Side effects", None))
        self.skillEditLabel.setText(QCoreApplication.translate("ContactDialog", u"S&kill practised", None))
        self.skillEdit.setPlaceholderText(QCoreApplication.translate("ContactDialog", u"behavioral activation, problem solving\u2026", None))
        self.summaryEditLabel.setText(QCoreApplication.translate("ContactDialog", u"S&ummary", None))
        self.questionEditLabel.setText(QCoreApplication.translate("ContactDialog", u"&Question for the\n"
"psychiatric consultant", None))
        self.questionEdit.setPlaceholderText(QCoreApplication.translate("ContactDialog", u"Optional: puts the patient on the next case-review agenda", None))
        self.minutesEditLabel.setText(QCoreApplication.translate("ContactDialog", u"M&inutes", None))
        self.nextStepBox.setTitle(QCoreApplication.translate("ContactDialog", u"Next step (every contact ends with one)", None))
        self.nextStepLabel.setText(QCoreApplication.translate("ContactDialog", u"&Next step *", None))
        self.nextStepEdit.setPlaceholderText(QCoreApplication.translate("ContactDialog", u"e.g. Follow-up call: check sleep and side effects", None))
        self.nextDateLabel.setText(QCoreApplication.translate("ContactDialog", u"&Due *", None))
        self.cancelButton.setText(QCoreApplication.translate("ContactDialog", u"Cancel", None))
        self.saveButton.setText(QCoreApplication.translate("ContactDialog", u"Save contact", None))
    # retranslateUi

